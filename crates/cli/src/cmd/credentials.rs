//! Credentials for the credentialed phase of `probe` and `diagnose`.
//!
//! The password comes from `--password-file FILE`, the environment variable
//! `RDP_DOCTOR_PASSWORD`, or a prompt on the terminal, in that order; never
//! from the command line alone (it would show in the process list and the
//! shell history). It is never printed, logged, put in JSON or in an error
//! message.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use rdp_doctor_probe::Credentials;
use zeroize::Zeroizing;

use crate::UsageError;

/// The environment variable the password is read from.
pub const PASSWORD_ENV: &str = "RDP_DOCTOR_PASSWORD";

/// The credential options shared by `probe` and `diagnose`.
#[derive(clap::Args, Debug)]
pub struct CredentialArgs {
    /// Make a full connection as USER (DOMAIN\USER, USER@DOMAIN or USER with --domain): CredSSP, MCS,
    /// licensing, capabilities. The password comes from --password-file, $RDP_DOCTOR_PASSWORD or a prompt.
    #[arg(long, value_name = "USER")]
    user: Option<String>,

    /// The domain of --user.
    #[arg(long, value_name = "DOMAIN", requires = "user")]
    domain: Option<String>,

    /// Read the password from the first line of FILE.
    #[arg(long, value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,

    /// Refused: a password on the command line shows in the process list and the shell history.
    #[arg(long, value_name = "PASSWORD", hide = true)]
    password: Option<String>,
}

impl CredentialArgs {
    /// The account named with --user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

/// The first line of a password file, without its line ending.
fn read_password_file(path: &Path) -> Result<Zeroizing<String>> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
        UsageError(format!(
            "cannot read the password file {}: {e}",
            path.display()
        ))
    })?);
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        UsageError(format!(
            "the password file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    let line = text.split(['\n', '\r']).next().unwrap_or_default();
    Ok(Zeroizing::new(line.to_string()))
}

fn password(args: &CredentialArgs) -> Result<Zeroizing<String>> {
    let password = if let Some(path) = &args.password_file {
        read_password_file(path)?
    } else if let Some(value) = std::env::var_os(PASSWORD_ENV) {
        Zeroizing::new(
            value
                .into_string()
                .map_err(|_| UsageError(format!("{PASSWORD_ENV} is not valid Unicode")))?,
        )
    } else if std::io::stdin().is_terminal() {
        let user = args.user.as_deref().unwrap_or_default();
        Zeroizing::new(
            rpassword::prompt_password(format!("Password for {user}: "))
                .map_err(|e| anyhow::anyhow!("cannot read the password from the terminal: {e}"))?,
        )
    } else {
        return Err(UsageError(format!(
            "--user needs a password: set {PASSWORD_ENV}, give --password-file FILE, or run on a terminal to be asked"
        ))
        .into());
    };
    if password.is_empty() {
        // Windows refuses remote logons with a blank password (LimitBlankPasswordUse).
        return Err(UsageError("the password is empty".into()).into());
    }
    Ok(password)
}

/// The credentials asked for, if any.
pub fn credentials(args: &CredentialArgs) -> Result<Option<Credentials>> {
    if args.password.is_some() {
        return Err(UsageError(format!(
            "--password is not accepted: a password on the command line shows in the process list and the shell history; set {PASSWORD_ENV}, use --password-file FILE or the prompt"
        ))
        .into());
    }
    let Some(user) = &args.user else {
        return Ok(None);
    };
    if user.trim().is_empty() {
        return Err(UsageError("--user is empty".into()).into());
    }
    let password = password(args)?;
    Ok(Some(Credentials::new(
        user.clone(),
        args.domain.clone(),
        password.as_str(),
    )))
}
