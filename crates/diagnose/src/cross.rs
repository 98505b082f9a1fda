//! Rules that read two sources together.

use rdp_doctor_model::{CauseId, Evidence, FindingId, Source};

use crate::rank::Support;
use crate::Inputs;

/// The server requires NLA and the .rdp file turns CredSSP off: the client
/// cannot do what the server demands. The file's line is the culprit.
pub fn nla_required_but_file_disables_credssp(inputs: &Inputs) -> Option<Support> {
    let probe = inputs.probe.as_ref()?;
    let refused = probe
        .findings
        .iter()
        .find(|f| f.id == FindingId::NlaRequired);
    if refused.is_none() && !probe.nla_required {
        return None;
    }
    let file = inputs.rdp_file.as_ref()?;
    let line = file.credssp_disabled.as_ref()?;
    let mut evidence = match refused {
        Some(f) => f.evidence.clone(),
        None => vec![Evidence::probe(
            rdp_doctor_model::PhaseName::X224,
            "the server refuses every security protocol but CredSSP (NLA)",
        )],
    };
    evidence.push(Evidence::RdpFile {
        line: Some(line.line),
        text: Some(line.text.clone()),
        detail: "the client will not do NLA (CredSSP), which the server requires".into(),
    });
    Some(Support {
        cause: CauseId::SecurityLayerMismatch,
        source: Source::RdpFile,
        finding: None,
        weight: 1.5,
        evidence,
    })
}

/// Every cross-source rule.
pub fn all(inputs: &Inputs) -> Vec<Support> {
    [
        nla_required_but_file_disables_credssp(inputs),
        crate::support::refusal_explained_by_rights(inputs),
    ]
    .into_iter()
    .flatten()
    .collect()
}
