//! `wsp-catalog`: list, install, remove, reorder, verify, back up and restore the Winsock
//! catalog.

fn main() {
    std::process::exit(0);
}
