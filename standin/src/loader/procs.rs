//! A provider's dispatch table as the stand-in keeps it once `WSPStartup` filled it: every
//! entry checked at load, then held as a plain function pointer.

use winsock_provider::sys::{ProcEntry, WSPPROC_TABLE};

macro_rules! procs {
    ([] $($field:ident : $entry:ty => $name:ident,)*) => {
        /// The 30 entries of a provider's `WSPPROC_TABLE`, none of them null: calls go straight
        /// through the pointer, with no check left to make.
        #[derive(Copy, Clone)]
        pub(crate) struct Procs {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub(crate) $name: <$entry as ProcEntry>::Proc,
            )*
        }

        impl Procs {
            /// The table's entries, or the names of those it left null (in table order).
            pub(crate) fn checked(table: &WSPPROC_TABLE) -> Result<Procs, Vec<&'static str>> {
                match ($(table.$field,)*) {
                    ($(Some($name),)*) => Ok(Procs { $($name,)* }),
                    _ => Err([$((stringify!($field), table.$field.is_none()),)*]
                        .iter()
                        .filter(|(_, null)| *null)
                        .map(|(name, _)| *name)
                        .collect()),
                }
            }

            /// The entries as a `WSPPROC_TABLE` again, for raw calls through [`crate::Spi`].
            pub(crate) fn table(&self) -> WSPPROC_TABLE {
                WSPPROC_TABLE { $($field: Some(self.$name),)* }
            }
        }
    };
}

winsock_provider::for_each_wsp_proc!(procs);

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "system" fn cleanup(_: *mut i32) -> i32 {
        0
    }

    #[test]
    fn null_entries_are_named_in_table_order() {
        let mut table = WSPPROC_TABLE::default();
        let nulls = Procs::checked(&table)
            .err()
            .expect("an empty table is refused");
        assert_eq!(nulls.len(), 30);
        assert_eq!(
            (nulls[0], nulls[5], nulls[29]),
            ("lpWSPAccept", "lpWSPCleanup", "lpWSPStringToAddress")
        );
        table.lpWSPCleanup = Some(cleanup);
        let nulls = Procs::checked(&table)
            .err()
            .expect("a partial table is refused");
        assert_eq!(nulls.len(), 29);
        assert!(!nulls.contains(&"lpWSPCleanup"));
    }

    macro_rules! full {
        ([$addr:expr] $($field:ident : $entry:ty => $name:ident,)*) => {
            WSPPROC_TABLE {
                $(
                    // SAFETY: a function's address as an entry of another signature: the
                    // table is only inspected, never called.
                    $field: Some(unsafe {
                        core::mem::transmute::<usize, <$entry as ProcEntry>::Proc>($addr)
                    }),
                )*
            }
        };
    }

    #[test]
    fn a_full_table_round_trips() {
        let full: WSPPROC_TABLE =
            winsock_provider::for_each_wsp_proc!(full, cleanup as *const () as usize);
        let procs = match Procs::checked(&full) {
            Ok(procs) => procs,
            Err(nulls) => panic!("a full table was refused: {:?}", nulls),
        };
        assert_eq!(procs.cleanup as usize, full.lpWSPCleanup.unwrap() as usize);
        let again = procs.table();
        assert_eq!(
            again.lpWSPStringToAddress.map(|f| f as usize),
            full.lpWSPStringToAddress.map(|f| f as usize)
        );
    }
}
