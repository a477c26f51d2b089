//! The real `PackedCatalogItem` from a Windows install (virtio-win's viosock) decodes to its
//! documented fields and re-encodes to the same 888 bytes.

use winsock_catalog::{Entry, Guid, ProtocolInfo, PACKED_ITEM_LEN, PROTOCOL_INFO_LEN};

fn golden() -> Vec<u8> {
    let hex: String = include_str!("data/viosock-PackedCatalogItem.hex")
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

#[test]
fn golden_entry_decodes_to_its_documented_fields() {
    let bytes = golden();
    assert_eq!(bytes.len(), PACKED_ITEM_LEN);
    let e = Entry::decode(&bytes).unwrap();
    assert_eq!(e.path, "%SystemRoot%\\System32\\viosocklib.dll");
    let i = &e.info;
    assert_eq!(i.service_flags1(), 0x20026);
    assert_eq!(i.provider_flags(), 8);
    assert_eq!(
        i.provider_id(),
        "{9980498c-e732-482b-9f67-924273a56666}"
            .parse::<Guid>()
            .unwrap()
    );
    assert_eq!(
        i.provider_id().to_string(),
        "{9980498c-e732-482b-9f67-924273a56666}"
    );
    assert_eq!(i.catalog_entry_id(), 1015);
    assert_eq!(i.chain_len(), 1);
    assert_eq!(i.chain_entries(), &[0]);
    assert!(i.is_base() && !i.is_hidden() && !i.is_layered());
    assert!(i.matches_protocol_zero());
    assert_eq!(i.address_family(), 40);
    assert_eq!(i.min_sockaddr(), 12);
    assert_eq!(i.max_sockaddr(), 16);
    assert_eq!(i.socket_type(), 1);
    assert_eq!(i.protocol(), 0);
    assert_eq!(i.network_byte_order(), 1);
    assert_eq!(i.name(), "Virtio Vsock STREAM");
    assert!(i.matches(40, 1, 0));
    assert!(!i.matches(40, 2, 0));
    assert!(!i.matches(2, 1, 0));
}

#[test]
fn golden_entry_reencodes_to_the_same_bytes() {
    let bytes = golden();
    let e = Entry::decode(&bytes).unwrap();
    assert_eq!(e.encode().unwrap(), bytes);
    let info = ProtocolInfo::from_bytes(&bytes[260..]).unwrap();
    assert_eq!(&info.to_bytes()[..], &bytes[260..]);
}

#[test]
fn protocol_info_round_trips_any_bytes_and_setters_hit_their_offsets() {
    let raw: Vec<u8> = (0..PROTOCOL_INFO_LEN).map(|i| (i * 7 + 3) as u8).collect();
    let mut info = ProtocolInfo::from_bytes(&raw).unwrap();
    assert_eq!(&info.to_bytes()[..], &raw[..]);
    assert!(ProtocolInfo::from_bytes(&raw[..627]).is_err());
    info.set_catalog_entry_id(0x0102_0304);
    info.set_chain(3, &[7, 8, 9]);
    info.set_address_family(-5);
    info.set_name("héllo");
    let b = info.to_bytes();
    assert_eq!(&b[36..40], &[4, 3, 2, 1]);
    assert_eq!(&b[40..44], &3i32.to_le_bytes());
    assert_eq!(&b[44..48], &7u32.to_le_bytes());
    assert_eq!(&b[52..56], &9u32.to_le_bytes());
    assert_eq!(&b[56..60], &0u32.to_le_bytes());
    assert_eq!(&b[76..80], &(-5i32).to_le_bytes());
    assert_eq!(&b[116..118], &(u16::from(b'h')).to_le_bytes());
    assert_eq!(info.chain_entries(), &[7, 8, 9]);
    assert_eq!(info.name(), "héllo");
    // Bytes nobody touched are as they were.
    assert_eq!(&b[..16], &raw[..16]);
    assert_eq!(&b[100..116], &raw[100..116]);
    // A copy decoded from the bytes equals the edited value.
    assert_eq!(ProtocolInfo::from_bytes(&b).unwrap(), info);
}

#[test]
fn chain_entries_are_clamped_to_the_chain_length() {
    let mut info = ProtocolInfo::new();
    info.set_chain(9, &[1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(info.chain_entries().len(), 7);
    info.set_chain_len(-1);
    assert!(info.chain_entries().is_empty());
}

#[test]
fn corrupted_items_are_errors_not_panics() {
    let bytes = golden();
    assert!(Entry::decode(&bytes[..887]).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert!(Entry::decode(&long).is_err());
    let mut bad_chain = bytes.clone();
    bad_chain[260 + 40..260 + 44].copy_from_slice(&8i32.to_le_bytes());
    let err = Entry::decode(&bad_chain).unwrap_err();
    assert!(err.to_string().contains("ChainLen 8"), "{}", err);
    let mut no_nul = bytes;
    for b in &mut no_nul[..260] {
        *b = b'a';
    }
    assert!(Entry::decode(&no_nul).is_err());
}

#[test]
fn guids_parse_and_print() {
    let g: Guid = "9980498C-E732-482B-9F67-924273A56666".parse().unwrap();
    assert_eq!(g.to_string(), "{9980498c-e732-482b-9f67-924273a56666}");
    assert_eq!(g.0[0], 0x8c);
    for bad in [
        "",
        "{}",
        "{9980498c-e732-482b-9f67-924273a5666}",
        "9980498c-e732-482b-9f67-924273a566667",
        "{9980498c-e732-482b-9f67-924273a56666",
        "9980498c+e732-482b-9f67-924273a56666",
        "g980498c-e732-482b-9f67-924273a56666",
    ] {
        assert!(bad.parse::<Guid>().is_err(), "{}", bad);
    }
}
