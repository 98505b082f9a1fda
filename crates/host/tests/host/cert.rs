//! The Remote Desktop certificate store read from a SOFTWARE hive: blobs
//! parsed (subject, dates, key container), keys looked up in MachineKeys,
//! and garbage survived.

use crate::common::*;
use proptest::prelude::*;
use rdp_doctor_host::cert;
use rdp_doctor_host::fix::{self, Options};
use rdp_doctor_host::{check, Action, Remedy, Report, Root};
use rdp_doctor_model::FindingId;
use rdp_doctor_regf::{Data, Hive};

const PROVIDER: &str = "Microsoft Enhanced RSA and AES Cryptographic Provider";

fn store_with(thumb: &str, blob_bytes: Vec<u8>) -> Vec<u8> {
    software(|ed| {
        ed.set_value(
            &format!("{STORE}\\{thumb}"),
            "Blob",
            &Data::Binary(blob_bytes),
        )
        .unwrap()
    })
}

/// One outcome of a check, as these tests compare it.
#[derive(Debug)]
struct Outcome {
    status: Seen,
    path: String,
    value: String,
    message: String,
    fixes: Vec<Remedy>,
}

fn checks(r: &Report, id: &str) -> Vec<Outcome> {
    let found = found(r, id).into_iter().map(|f| Outcome {
        status: seen_of(f.severity),
        path: fix::Target::of(f).path,
        value: fix::Target::of(f).value,
        message: f.title.clone(),
        fixes: f.remedies.clone(),
    });
    let code = FindingId::from_code(id).unwrap();
    let passed = r.passed.iter().filter(|p| p.id == code).map(|p| Outcome {
        status: Seen::Passed,
        path: p.path.clone(),
        value: p.value.clone(),
        message: p.message.clone(),
        fixes: Vec::new(),
    });
    found.chain(passed).collect()
}

fn seen_of(s: rdp_doctor_model::Severity) -> Seen {
    match s {
        rdp_doctor_model::Severity::Error => Seen::Error,
        rdp_doctor_model::Severity::Warning => Seen::Warning,
        rdp_doctor_model::Severity::Info => Seen::Info,
    }
}

fn run(system: &[u8], sw: &[u8], windows: Option<&std::path::Path>) -> Report {
    let s = Hive::new(system).unwrap();
    let w = Hive::new(sw).unwrap();
    check(&s, Some(&w), windows).unwrap()
}

#[test]
fn a_valid_certificate_and_its_key_file() {
    let der = data_file("rdp_valid.der");
    let thumb = sha1_upper(&der);
    let sw = store_with(&thumb, blob(&der, "TSSecKeySet1", PROVIDER));
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join(cert::MACHINE_KEYS);
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join("0123456789abcdef_other"),
        b"junk that is no key file",
    )
    .unwrap();
    std::fs::write(
        keys.join(format!("{}_{MACHINE_GUID}", cert::TS_KEY_CONTAINER_FILE)),
        capi_key_file("TSSecKeySet1"),
    )
    .unwrap();

    let r = run(&clean_system(), &sw, Some(dir.path()));
    let c = checks(&r, "HOST020");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].status, Seen::Passed, "{:#?}", c);
    assert!(c[0].value.contains("CN=RESCUED-HOST"), "{}", c[0].value);
    assert!(
        c[0].value
            .contains("valid 2024-01-01T00:00:00Z to 2124-01-01T00:00:00Z"),
        "{}",
        c[0].value
    );
    assert!(
        c[0].value.contains("key container TSSecKeySet1"),
        "{}",
        c[0].value
    );
    assert_eq!(c[0].path, format!("HKLM\\SOFTWARE\\{STORE}\\{thumb}\\Blob"));
    let k = checks(&r, "HOST021");
    assert_eq!(k[0].status, Seen::Passed, "{:#?}", k);
    assert!(k[0]
        .path
        .ends_with(&format!("{}_{MACHINE_GUID}", cert::TS_KEY_CONTAINER_FILE)));
    assert_eq!(checks(&r, "HOST017")[0].status, Seen::Passed);
    assert_eq!(checks(&r, "HOST016")[0].value, thumb);

    // The key file gone: the certificate cannot be used.
    std::fs::remove_file(keys.join(format!("{}_{MACHINE_GUID}", cert::TS_KEY_CONTAINER_FILE)))
        .unwrap();
    let r = run(&clean_system(), &sw, Some(dir.path()));
    let k = checks(&r, "HOST021");
    assert_eq!(k[0].status, Seen::Error, "{:#?}", k);
    assert!(k[0].value.contains("TSSecKeySet1"));
    // Without --windows the key is not looked for.
    let r = run(&clean_system(), &sw, None);
    assert!(checks(&r, "HOST021").is_empty());
}

#[test]
fn an_expired_certificate_the_listener_is_pinned_to_is_fixed_by_unpinning() {
    let der = data_file("rdp_expired.der");
    let thumb = sha1_upper(&der);
    let sw = store_with(&thumb, blob(&der, "TSSecKeySet1", PROVIDER));
    let hash: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&thumb[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    let system = edited(&clean_system(), |ed| {
        ed.set_value(RDP_TCP, "SSLCertificateSHA1Hash", &Data::Binary(hash))
            .unwrap()
    });
    let r = run(&system, &sw, None);
    let c = checks(&r, "HOST020");
    assert_eq!(c[0].status, Seen::Warning);
    assert!(
        c[0].message.contains("expired on 2021-01-01T00:00:00Z"),
        "{}",
        c[0].message
    );
    let pin = checks(&r, "HOST013");
    assert_eq!(pin[0].status, Seen::Error, "{:#?}", pin);
    assert!(pin[0].message.contains("expired"), "{}", pin[0].message);

    let plan = fix::plan(
        &r,
        &Options {
            only: vec![FindingId::PinnedCertificateMissing],
            allow_downgrade: false,
        },
    );
    assert_eq!(
        plan.actions,
        vec![Action::DeleteValue {
            root: Root::System,
            key: "CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp".into(),
            name: "SSLCertificateSHA1Hash".into()
        }]
    );
    // Unpinned, the listener falls back to the store: no HOST013 any more.
    let unpinned = edited(&system, |ed| {
        assert!(ed.delete_value(RDP_TCP, "SSLCertificateSHA1Hash").unwrap());
    });
    assert!(checks(&run(&unpinned, &sw, None), "HOST013").is_empty());
}

#[test]
fn damaged_store_entries_are_warnings_not_panics() {
    let der = data_file("rdp_valid.der");
    // Stored under a name that is not its SHA-1.
    let sw = store_with(
        "00112233445566778899AABBCCDDEEFF00112233",
        blob(&der, "TSSecKeySet1", PROVIDER),
    );
    let r = run(&clean_system(), &sw, None);
    let c = checks(&r, "HOST020");
    assert_eq!(c[0].status, Seen::Warning);
    assert!(c[0].message.contains("damaged"), "{}", c[0].message);

    let mut cut = blob(&der, "TSSecKeySet1", PROVIDER);
    cut.truncate(cut.len() - 100);
    let sw = store_with(&sha1_upper(&der), cut);
    let r = run(&clean_system(), &sw, None);
    let c = checks(&r, "HOST020");
    assert_eq!(c[0].status, Seen::Warning);
    assert!(
        c[0].message.contains("cannot be read") && c[0].message.contains("claims"),
        "{}",
        c[0].message
    );
    assert!(!c[0].fixes.is_empty());
}

fn valid_blob() -> Vec<u8> {
    blob(&data_file("rdp_valid.der"), "TSSecKeySet1", PROVIDER)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = cert::parse_blob(&bytes);
        let _ = cert::properties(&bytes);
        let _ = cert::key_prov_info(&bytes);
        let _ = cert::capi_key_name(&bytes);
        let _ = cert::cng_key_name(&bytes);
    }

    #[test]
    fn damaged_real_blobs_are_read_or_refused(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = valid_blob();
        for (i, v) in flips {
            let at = i.index(b.len());
            b[at] = v;
        }
        let len = cut.index(b.len() + 1);
        b.truncate(len);
        if let Ok(info) = cert::parse_blob(&b) {
            prop_assert_eq!(info.cert.sha1_thumbprint.len(), 40);
        }
    }
}

#[test]
fn the_checks_survive_garbage_blobs_in_a_real_hive() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(12));
    let system = clean_system();
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..600), |bytes| {
            let sw = store_with("AB", bytes);
            let r = run(&system, &sw, None);
            prop_assert_eq!(checks(&r, "HOST020").len(), 1);
            Ok(())
        })
        .unwrap();
}
