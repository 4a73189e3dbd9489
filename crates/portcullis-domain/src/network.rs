//! Client networks for the new-IP login policy: an IPv4 address on its own, an IPv6 address by
//! its /64 (one household or device usually holds a whole /64 and moves within it).

use std::net::IpAddr;

/// What the new-IP policy does with a sign-in from a network the account has not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewIpPolicy {
    /// Nothing.
    Off,
    /// Let it in and mail the owner a notice.
    #[default]
    Notify,
    /// Refuse it (403 `ip_authorization_required`) and mail a link and code that authorize
    /// the network.
    Require,
}

/// The network `ip` belongs to, as stored.
///
/// ```
/// use portcullis_domain::network::network_of;
/// assert_eq!(network_of("203.0.113.9".parse().unwrap()), "203.0.113.9");
/// assert_eq!(network_of("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
/// assert_eq!(network_of("2001:db8:1:2:ffff::9".parse().unwrap()), "2001:db8:1:2::/64");
/// assert_eq!(network_of("::ffff:198.51.100.7".parse().unwrap()), "198.51.100.7");
/// ```
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn v6_addresses_group_by_their_first_64_bits(a in any::<u128>(), b in any::<u64>()) {
            let x = std::net::Ipv6Addr::from(a);
            prop_assume!(x.to_ipv4_mapped().is_none());
            let same_prefix = std::net::Ipv6Addr::from((a & !u128::from(u64::MAX)) | u128::from(b));
            prop_assert_eq!(network_of(IpAddr::V6(x)), network_of(IpAddr::V6(same_prefix)));
            let other_prefix = std::net::Ipv6Addr::from(a ^ (1u128 << 64));
            prop_assume!(other_prefix.to_ipv4_mapped().is_none());
            prop_assert_ne!(network_of(IpAddr::V6(x)), network_of(IpAddr::V6(other_prefix)));
        }

        #[test]
        fn v4_addresses_stand_alone(a in any::<u32>(), b in any::<u32>()) {
            prop_assume!(a != b);
            let (x, y) = (std::net::Ipv4Addr::from(a), std::net::Ipv4Addr::from(b));
            prop_assert_ne!(network_of(IpAddr::V4(x)), network_of(IpAddr::V4(y)));
        }
    }
}
