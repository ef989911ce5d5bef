//! Which address family a phone uses to reach CAPF (spec Appendix A, from
//! the Cisco Unified CM security guide).
//!
//! A pure function of three facts: the phone's IP addressing mode, the
//! families the phone actually holds an address in, and the families
//! configured for the CAPF server. The answer is the ordered list of families
//! to try; an empty list means the phone cannot reach CAPF.
//!
//! When the cluster parameter *Enable IPv6* is false, CAPF ignores IPv6
//! connections: the host should then pass a `capf_has` without IPv6.
//!
//! ```
//! use capf_core::address_selection::{AddressFamily, AddressingMode, Families, families_to_try};
//!
//! let order = families_to_try(AddressingMode::DualStack, Families::BOTH, Families::BOTH);
//! assert_eq!(order, [AddressFamily::Ipv6, AddressFamily::Ipv4]);
//! assert!(families_to_try(AddressingMode::Ipv4Only, Families::IPV4, Families::IPV6).is_empty());
//! ```

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// The phone's configured IP addressing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressingMode {
    /// IPv4 and IPv6 (dual stack).
    DualStack,
    /// IPv4 only.
    Ipv4Only,
    /// IPv6 only.
    Ipv6Only,
}

/// A set of address families (which ones a phone holds, or CAPF has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Families {
    /// An IPv4 address is present.
    pub ipv4: bool,
    /// An IPv6 address is present.
    pub ipv6: bool,
}

impl Families {
    /// Neither family.
    pub const NONE: Families = Families {
        ipv4: false,
        ipv6: false,
    };
    /// IPv4 only.
    pub const IPV4: Families = Families {
        ipv4: true,
        ipv6: false,
    };
    /// IPv6 only.
    pub const IPV6: Families = Families {
        ipv4: false,
        ipv6: true,
    };
    /// IPv4 and IPv6.
    pub const BOTH: Families = Families {
        ipv4: true,
        ipv6: true,
    };
}

/// The families to try, in order, for a phone to reach CAPF (Appendix A).
///
/// * IPv4-only and IPv6-only phones use their one family when both the phone
///   and CAPF have it, else cannot connect (rows 10-15).
/// * A dual-stack phone prefers IPv6 when it and CAPF both have IPv6, and then
///   falls back to IPv4 when CAPF has IPv4 (rows 1, 3, 5, 9). Row 3 lists this
///   fallback even for a phone holding only IPv6; it is kept, meaning "try
///   IPv4 if the phone has gained an IPv4 address by then". Without a common
///   IPv6, it uses IPv4 when both have IPv4 (rows 2, 4, 6), else cannot
///   connect (rows 7, 8).
///
/// The mode wins over the addresses: an IPv4-only phone never tries IPv6
/// even if it somehow holds an IPv6 address, and vice versa.
pub fn families_to_try(
    mode: AddressingMode,
    phone_has: Families,
    capf_has: Families,
) -> Vec<AddressFamily> {
    let v4 = phone_has.ipv4 && capf_has.ipv4;
    let v6 = phone_has.ipv6 && capf_has.ipv6;
    match mode {
        AddressingMode::Ipv4Only if v4 => vec![AddressFamily::Ipv4],
        AddressingMode::Ipv6Only if v6 => vec![AddressFamily::Ipv6],
        AddressingMode::Ipv4Only | AddressingMode::Ipv6Only => Vec::new(),
        AddressingMode::DualStack if v6 && capf_has.ipv4 => {
            vec![AddressFamily::Ipv6, AddressFamily::Ipv4]
        }
        AddressingMode::DualStack if v6 => vec![AddressFamily::Ipv6],
        AddressingMode::DualStack if v4 => vec![AddressFamily::Ipv4],
        AddressingMode::DualStack => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    //! One test per row of the Appendix A table, named after the row.
    use super::AddressFamily::{Ipv4, Ipv6};
    use super::AddressingMode::{DualStack, Ipv4Only, Ipv6Only};
    use super::*;

    const BOTH: Families = Families::BOTH;
    const V4: Families = Families::IPV4;
    const V6: Families = Families::IPV6;

    #[test]
    fn row_01_dual_stack_phone_v4_v6_capf_v4_v6_ipv6_then_ipv4() {
        assert_eq!(families_to_try(DualStack, BOTH, BOTH), [Ipv6, Ipv4]);
    }

    #[test]
    fn row_02_dual_stack_phone_v4_capf_v4_v6_ipv4() {
        assert_eq!(families_to_try(DualStack, V4, BOTH), [Ipv4]);
    }

    #[test]
    fn row_03_dual_stack_phone_v6_capf_v4_v6_ipv6_then_ipv4() {
        assert_eq!(families_to_try(DualStack, V6, BOTH), [Ipv6, Ipv4]);
    }

    #[test]
    fn row_04_dual_stack_phone_v4_capf_v4_ipv4() {
        assert_eq!(families_to_try(DualStack, V4, V4), [Ipv4]);
    }

    #[test]
    fn row_05_dual_stack_phone_v4_v6_capf_v6_ipv6() {
        assert_eq!(families_to_try(DualStack, BOTH, V6), [Ipv6]);
    }

    #[test]
    fn row_06_dual_stack_phone_v4_v6_capf_v4_ipv4() {
        assert_eq!(families_to_try(DualStack, BOTH, V4), [Ipv4]);
    }

    #[test]
    fn row_07_dual_stack_phone_v4_capf_v6_cannot_connect() {
        assert!(families_to_try(DualStack, V4, V6).is_empty());
    }

    #[test]
    fn row_08_dual_stack_phone_v6_capf_v4_cannot_connect() {
        assert!(families_to_try(DualStack, V6, V4).is_empty());
    }

    #[test]
    fn row_09_dual_stack_phone_v6_capf_v6_ipv6() {
        assert_eq!(families_to_try(DualStack, V6, V6), [Ipv6]);
    }

    #[test]
    fn row_10_ipv4_phone_v4_capf_v4_v6_ipv4() {
        assert_eq!(families_to_try(Ipv4Only, V4, BOTH), [Ipv4]);
    }

    #[test]
    fn row_11_ipv6_phone_v6_capf_v4_v6_ipv6() {
        assert_eq!(families_to_try(Ipv6Only, V6, BOTH), [Ipv6]);
    }

    #[test]
    fn row_12_ipv4_phone_v4_capf_v4_ipv4() {
        assert_eq!(families_to_try(Ipv4Only, V4, V4), [Ipv4]);
    }

    #[test]
    fn row_13_ipv4_phone_v4_capf_v6_cannot_connect() {
        assert!(families_to_try(Ipv4Only, V4, V6).is_empty());
    }

    #[test]
    fn row_14_ipv6_phone_v6_capf_v6_ipv6() {
        assert_eq!(families_to_try(Ipv6Only, V6, V6), [Ipv6]);
    }

    #[test]
    fn row_15_ipv6_phone_v6_capf_v4_cannot_connect() {
        assert!(families_to_try(Ipv6Only, V6, V4).is_empty());
    }

    #[test]
    fn mode_wins_over_addresses_and_nothing_gives_nothing() {
        assert_eq!(families_to_try(Ipv4Only, BOTH, BOTH), [Ipv4]);
        assert_eq!(families_to_try(Ipv6Only, BOTH, BOTH), [Ipv6]);
        assert!(families_to_try(DualStack, Families::NONE, BOTH).is_empty());
        assert!(families_to_try(DualStack, BOTH, Families::NONE).is_empty());
    }
}
