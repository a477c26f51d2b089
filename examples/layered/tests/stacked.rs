//! The shared scenario suite through two stacked layers (two copies of the counting layer,
//! each its own library) over the loopback provider; `SIO_BASE_HANDLE` through both.

mod common;

ip_suite!(common::Chain::Stacked);

#[test]
fn base_handle_through_two_layers() {
    run(common::Chain::Stacked, |ws| {
        let s = ws.socket(2, 1, 6).map_err(|e| e.to_string())?;
        let base = common::base_handle(ws, s, ws2_standin::sys::SIO_BASE_HANDLE);
        ws.closesocket(s).map_err(|e| e.to_string())?;
        assert_ne!(base, s, "the top layer answered its own handle");
        Ok(())
    });
}

#[test]
fn chain_entry_has_three_links() {
    run(common::Chain::Stacked, |ws| {
        let s = ws.socket(2, 1, 6).map_err(|e| e.to_string())?;
        let info = common::protocol_info(ws, s);
        ws.closesocket(s).map_err(|e| e.to_string())?;
        assert_eq!(info.ProtocolChain.ChainLen, 3);
        Ok(())
    });
}
