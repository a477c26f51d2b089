//! The generated ws2spi bindings (`winsock_provider::sys`) against the layouts of the Windows
//! SDK's headers (winsock2.h, ws2def.h, ws2ipdef.h, ws2spi.h, mswsock.h, minwinbase.h, qos.h),
//! for the pointer width this was built for.
//!
//! The bindings are generated once and used for every target: their pointer-sized fields are
//! `usize`, `isize` and raw pointers, so the layouts follow the target. This check states the
//! expected size, alignment and every field offset for both x86-64 and x86 (i686) as numbers
//! taken from the headers, so it fails if the bindings are regenerated differently or a target
//! lays them out differently. It runs under `cargo test` and as the first scenario of every
//! `wsp-e2e` suite, so the 32-bit Windows build checks itself inside a 32-bit process.

use crate::sys::{
    FD_SET, FLOWSPEC, GUID, HANDLE, HWND, IN6_ADDR, IN_ADDR, LINGER, LPARAM, LPWSPSTARTUP,
    OVERLAPPED, QOS, SCOPE_ID, SOCKADDR, SOCKADDR_IN, SOCKADDR_IN6, SOCKADDR_STORAGE, SOCKET,
    TIMEVAL, TRANSMIT_FILE_BUFFERS, WPARAM, WSABUF, WSAEVENT, WSAMSG, WSANETWORKEVENTS,
    WSAPROTOCOLCHAIN, WSAPROTOCOL_INFOW, WSATHREADID, WSPDATA, WSPPROC_TABLE, WSPUPCALLTABLE,
};
use core::mem::{align_of, size_of, MaybeUninit};

const S: &str = "layout::bindings";

/// The expected value for this target: `x64` where pointers are 64 bits wide, `x86` where they
/// are 32 bits wide.
fn pick(x64: usize, x86: usize) -> Result<usize, String> {
    if cfg!(target_pointer_width = "64") {
        Ok(x64)
    } else if cfg!(target_pointer_width = "32") {
        Ok(x86)
    } else {
        Err(format!(
            "{}: no expected layouts for {}-bit pointers",
            S,
            usize::BITS
        ))
    }
}

fn expect(bad: &mut Vec<String>, what: String, got: usize, x64: usize, x86: usize) {
    match pick(x64, x86) {
        Ok(want) if want == got => {}
        Ok(want) => bad.push(format!("{} is {}, the SDK's is {}", what, got, want)),
        Err(e) => bad.push(e),
    }
}

/// `check!(bad, T, size A / B, align C / D, field.path @ E / F, ...)`: each pair is the value
/// on x86-64 / on x86.
macro_rules! check {
    ($bad:ident, $ty:ident, size $s64:literal / $s32:literal, align $a64:literal / $a32:literal
     $(, $($field:ident).+ @ $o64:literal / $o32:literal)* $(,)?) => {{
        let name = stringify!($ty);
        expect(&mut $bad, format!("size_of::<{}>()", name), size_of::<$ty>(), $s64, $s32);
        expect(&mut $bad, format!("align_of::<{}>()", name), align_of::<$ty>(), $a64, $a32);
        $(
            let value = MaybeUninit::<$ty>::uninit();
            let base = value.as_ptr();
            // SAFETY: `addr_of!` computes the field's address inside `value` (a live local of
            // the struct's size) without reading the uninitialised memory or making a
            // reference; union fields are only named, never read.
            let field = unsafe { core::ptr::addr_of!((*base).$($field).+) };
            let offset = field as *const u8 as usize - base as *const u8 as usize;
            expect(
                &mut $bad,
                format!("offset of {}.{}", name, [$(stringify!($field)),+].join(".")),
                offset,
                $o64,
                $o32,
            );
        )*
    }};
}

/// Checks every struct of the bindings (size, alignment, each field's offset) and the
/// pointer-sized scalar types against the SDK's layouts for this target's pointer width.
pub fn bindings() -> Result<(), String> {
    let mut bad = Vec::new();

    // Pointer-sized scalars: SOCKET is UINT_PTR, WSAEVENT a HANDLE.
    expect(
        &mut bad,
        "size_of::<SOCKET>()".into(),
        size_of::<SOCKET>(),
        8,
        4,
    );
    expect(
        &mut bad,
        "size_of::<HANDLE>()".into(),
        size_of::<HANDLE>(),
        8,
        4,
    );
    expect(
        &mut bad,
        "size_of::<WSAEVENT>()".into(),
        size_of::<WSAEVENT>(),
        8,
        4,
    );
    expect(
        &mut bad,
        "size_of::<HWND>()".into(),
        size_of::<HWND>(),
        8,
        4,
    );
    expect(
        &mut bad,
        "size_of::<WPARAM>()".into(),
        size_of::<WPARAM>(),
        8,
        4,
    );
    expect(
        &mut bad,
        "size_of::<LPARAM>()".into(),
        size_of::<LPARAM>(),
        8,
        4,
    );
    expect(
        &mut bad,
        "size_of::<LPWSPSTARTUP>()".into(),
        size_of::<LPWSPSTARTUP>(),
        8,
        4,
    );

    check!(bad, GUID, size 16 / 16, align 4 / 4,
        data1 @ 0 / 0, data2 @ 4 / 4, data3 @ 6 / 6, data4 @ 8 / 8);
    check!(bad, FD_SET, size 520 / 260, align 8 / 4, fd_count @ 0 / 0, fd_array @ 8 / 4);
    check!(bad, FLOWSPEC, size 32 / 32, align 4 / 4,
        TokenRate @ 0 / 0, TokenBucketSize @ 4 / 4, PeakBandwidth @ 8 / 8, Latency @ 12 / 12,
        DelayVariation @ 16 / 16, ServiceType @ 20 / 20, MaxSduSize @ 24 / 24,
        MinimumPolicedSize @ 28 / 28);
    check!(bad, IN_ADDR, size 4 / 4, align 4 / 4,
        S_un.S_un_b.s_b1 @ 0 / 0, S_un.S_un_b.s_b4 @ 3 / 3, S_un.S_un_w.s_w2 @ 2 / 2,
        S_un.S_addr @ 0 / 0);
    check!(bad, IN6_ADDR, size 16 / 16, align 2 / 2, u.Byte @ 0 / 0, u.Word @ 0 / 0);
    check!(bad, LINGER, size 4 / 4, align 2 / 2, l_onoff @ 0 / 0, l_linger @ 2 / 2);
    check!(bad, OVERLAPPED, size 32 / 20, align 8 / 4,
        Internal @ 0 / 0, InternalHigh @ 8 / 4, Anonymous.Anonymous.Offset @ 16 / 8,
        Anonymous.Anonymous.OffsetHigh @ 20 / 12, Anonymous.Pointer @ 16 / 8, hEvent @ 24 / 16);
    check!(bad, QOS, size 80 / 72, align 8 / 4,
        SendingFlowspec @ 0 / 0, ReceivingFlowspec @ 32 / 32, ProviderSpecific @ 64 / 64);
    check!(bad, SCOPE_ID, size 4 / 4, align 4 / 4, Anonymous.Value @ 0 / 0);
    check!(bad, SOCKADDR, size 16 / 16, align 2 / 2, sa_family @ 0 / 0, sa_data @ 2 / 2);
    check!(bad, SOCKADDR_IN, size 16 / 16, align 4 / 4,
        sin_family @ 0 / 0, sin_port @ 2 / 2, sin_addr @ 4 / 4, sin_zero @ 8 / 8);
    check!(bad, SOCKADDR_IN6, size 28 / 28, align 4 / 4,
        sin6_family @ 0 / 0, sin6_port @ 2 / 2, sin6_flowinfo @ 4 / 4, sin6_addr @ 8 / 8,
        Anonymous.sin6_scope_id @ 24 / 24, Anonymous.sin6_scope_struct @ 24 / 24);
    // `__ss_align` is an __int64: 8-aligned on x86 Windows too.
    check!(bad, SOCKADDR_STORAGE, size 128 / 128, align 8 / 8,
        ss_family @ 0 / 0, __ss_pad1 @ 2 / 2, __ss_align @ 8 / 8, __ss_pad2 @ 16 / 16);
    check!(bad, TIMEVAL, size 8 / 8, align 4 / 4, tv_sec @ 0 / 0, tv_usec @ 4 / 4);
    check!(bad, TRANSMIT_FILE_BUFFERS, size 32 / 16, align 8 / 4,
        Head @ 0 / 0, HeadLength @ 8 / 4, Tail @ 16 / 8, TailLength @ 24 / 12);
    check!(bad, WSABUF, size 16 / 8, align 8 / 4, len @ 0 / 0, buf @ 8 / 4);
    check!(bad, WSAMSG, size 56 / 28, align 8 / 4,
        name @ 0 / 0, namelen @ 8 / 4, lpBuffers @ 16 / 8, dwBufferCount @ 24 / 12,
        Control @ 32 / 16, dwFlags @ 48 / 24);
    check!(bad, WSANETWORKEVENTS, size 44 / 44, align 4 / 4,
        lNetworkEvents @ 0 / 0, iErrorCode @ 4 / 4);
    check!(bad, WSAPROTOCOLCHAIN, size 32 / 32, align 4 / 4,
        ChainLen @ 0 / 0, ChainEntries @ 4 / 4);
    check!(bad, WSAPROTOCOL_INFOW, size 628 / 628, align 4 / 4,
        dwServiceFlags1 @ 0 / 0, dwServiceFlags2 @ 4 / 4, dwServiceFlags3 @ 8 / 8,
        dwServiceFlags4 @ 12 / 12, dwProviderFlags @ 16 / 16, ProviderId @ 20 / 20,
        dwCatalogEntryId @ 36 / 36, ProtocolChain @ 40 / 40, iVersion @ 72 / 72,
        iAddressFamily @ 76 / 76, iMaxSockAddr @ 80 / 80, iMinSockAddr @ 84 / 84,
        iSocketType @ 88 / 88, iProtocol @ 92 / 92, iProtocolMaxOffset @ 96 / 96,
        iNetworkByteOrder @ 100 / 100, iSecurityScheme @ 104 / 104, dwMessageSize @ 108 / 108,
        dwProviderReserved @ 112 / 112, szProtocol @ 116 / 116);
    check!(bad, WSATHREADID, size 16 / 8, align 8 / 4, ThreadHandle @ 0 / 0, Reserved @ 8 / 4);
    // szDescription is WCHAR[WSPDESCRIPTION_LEN + 1], WSPDESCRIPTION_LEN being 255.
    check!(bad, WSPDATA, size 516 / 516, align 2 / 2,
        wVersion @ 0 / 0, wHighVersion @ 2 / 2, szDescription @ 4 / 4);
    // The 30 entries in ws2spi.h's order.
    check!(bad, WSPPROC_TABLE, size 240 / 120, align 8 / 4,
        lpWSPAccept @ 0 / 0, lpWSPAddressToString @ 8 / 4, lpWSPAsyncSelect @ 16 / 8,
        lpWSPBind @ 24 / 12, lpWSPCancelBlockingCall @ 32 / 16, lpWSPCleanup @ 40 / 20,
        lpWSPCloseSocket @ 48 / 24, lpWSPConnect @ 56 / 28, lpWSPDuplicateSocket @ 64 / 32,
        lpWSPEnumNetworkEvents @ 72 / 36, lpWSPEventSelect @ 80 / 40,
        lpWSPGetOverlappedResult @ 88 / 44, lpWSPGetPeerName @ 96 / 48,
        lpWSPGetSockName @ 104 / 52, lpWSPGetSockOpt @ 112 / 56, lpWSPGetQOSByName @ 120 / 60,
        lpWSPIoctl @ 128 / 64, lpWSPJoinLeaf @ 136 / 68, lpWSPListen @ 144 / 72,
        lpWSPRecv @ 152 / 76, lpWSPRecvDisconnect @ 160 / 80, lpWSPRecvFrom @ 168 / 84,
        lpWSPSelect @ 176 / 88, lpWSPSend @ 184 / 92, lpWSPSendDisconnect @ 192 / 96,
        lpWSPSendTo @ 200 / 100, lpWSPSetSockOpt @ 208 / 104, lpWSPShutdown @ 216 / 108,
        lpWSPSocket @ 224 / 112, lpWSPStringToAddress @ 232 / 116);
    // Passed to WSPStartup by value: 60 bytes of arguments on x86 (`_WSPStartup@76`).
    check!(bad, WSPUPCALLTABLE, size 120 / 60, align 8 / 4,
        lpWPUCloseEvent @ 0 / 0, lpWPUCloseSocketHandle @ 8 / 4, lpWPUCreateEvent @ 16 / 8,
        lpWPUCreateSocketHandle @ 24 / 12, lpWPUFDIsSet @ 32 / 16,
        lpWPUGetProviderPath @ 40 / 20, lpWPUModifyIFSHandle @ 48 / 24,
        lpWPUPostMessage @ 56 / 28, lpWPUQueryBlockingCallback @ 64 / 32,
        lpWPUQuerySocketHandleContext @ 72 / 36, lpWPUQueueApc @ 80 / 40,
        lpWPUResetEvent @ 88 / 44, lpWPUSetEvent @ 96 / 48, lpWPUOpenCurrentThread @ 104 / 52,
        lpWPUCloseThread @ 112 / 56);

    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", S, bad.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_match_the_sdk_layouts() {
        bindings().unwrap();
    }

    #[repr(C)]
    struct Probe {
        a: u8,
        p: *const u8,
    }

    #[test]
    fn a_wrong_layout_is_reported() {
        let mut bad = Vec::new();
        // Right on both widths except `p`'s offset, stated as 1 (it is pointer-aligned).
        check!(bad, Probe, size 16 / 8, align 8 / 4, a @ 0 / 0, p @ 1 / 1);
        assert_eq!(bad.len(), 1, "{:?}", bad);
        let want = format!(
            "offset of Probe.p is {}, the SDK's is 1",
            size_of::<usize>()
        );
        assert_eq!(bad[0], want);
        let probe = Probe {
            a: 0,
            p: core::ptr::null(),
        };
        assert!(probe.a == 0 && probe.p.is_null());
    }
}
