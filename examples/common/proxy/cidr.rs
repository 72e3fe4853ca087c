//! IP networks in CIDR notation, for `--proxy-from`: which peers may send a PROXY header.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address and a prefix length, written `ADDR/LEN` (RFC 4632
/// section 3.1 for IPv4, RFC 4291 section 2.3 for IPv6): `127.0.0.1/32`, `10.0.0.0/8`,
/// `::1/128`, `2001:db8::/32`. A bare address is that one host.
///
/// Strict, as a rule of trust should be: host bits set below the prefix (`10.0.0.1/8`) are
/// refused rather than masked, since they usually mean a typing mistake. An IPv4-mapped
/// IPv6 network (`::ffff:10.0.0.0/104`) is kept as the IPv4 network it names, and
/// [`contains`](Self::contains) compares a mapped peer (what a dual-stack listener reports
/// for an IPv4 client) as IPv4: the one address has one answer, whichever way it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a text is not a [`Cidr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("not an IP address (expected ADDR or ADDR/LEN, e.g. 127.0.0.1/32 or ::1/128)")]
    Address,
    /// The prefix length is not a decimal number (without sign or leading zeros) up to 32
    /// for IPv4 or 128 for IPv6.
    #[error("bad prefix length (0-32 for IPv4, 0-128 for IPv6)")]
    Prefix,
    /// Bits set in the address below the prefix length.
    #[error("address bits set below the prefix length (did you mean {0}?)")]
    HostBits(Cidr),
}

impl Cidr {
    /// The network `network/prefix`; refuses a prefix longer than the address and host bits
    /// set below it.
    pub fn new(network: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let (network, prefix) = canonical(network, prefix)?;
        let masked = mask(network, prefix);
        if masked != network {
            return Err(CidrError::HostBits(Self {
                network: masked,
                prefix,
            }));
        }
        Ok(Self { network, prefix })
    }

    /// The one host `addr` (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> Self {
        let addr = addr.to_canonical();
        Self {
            network: addr,
            prefix: bits(addr),
        }
    }

    /// The network's first address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `addr` is in the network. An IPv4-mapped IPv6 address counts as its IPv4
    /// address; otherwise IPv4 and IPv6 never match each other.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix) == self.network
    }
}

/// The prefix checked against the family, and an IPv4-mapped network as IPv4.
fn canonical(network: IpAddr, prefix: u8) -> Result<(IpAddr, u8), CidrError> {
    if prefix > bits(network) {
        return Err(CidrError::Prefix);
    }
    match network {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Ok((IpAddr::V4(v4), prefix - 96)),
            None => Ok((network, prefix)),
        },
        _ => Ok((network, prefix)),
    }
}

/// Address length in bits.
fn bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `addr` with the bits below `prefix` cleared (`prefix` at most the address length).
fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| CidrError::Address)?;
        let Some(prefix) = prefix else {
            return Ok(Self::host(network));
        };
        // Digits only, no leading zero: `u8::from_str` would take `+8` and `008`.
        let plain = !prefix.is_empty()
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && (prefix == "0" || !prefix.starts_with('0'));
        let prefix: u8 = match prefix.parse() {
            Ok(prefix) if plain => prefix,
            _ => return Err(CidrError::Prefix),
        };
        Self::new(network, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse()
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_networks_contain_their_addresses_only() {
        let loopback = cidr("127.0.0.1/32");
        assert!(loopback.contains(ip("127.0.0.1")));
        assert!(!loopback.contains(ip("127.0.0.2")));

        let ten = cidr("10.0.0.0/8");
        assert!(ten.contains(ip("10.0.0.0")));
        assert!(ten.contains(ip("10.255.255.255")));
        assert!(!ten.contains(ip("11.0.0.0")));
        assert!(!ten.contains(ip("9.255.255.255")));

        let odd = cidr("192.168.4.0/22");
        assert!(odd.contains(ip("192.168.7.255")));
        assert!(!odd.contains(ip("192.168.8.0")));
        assert!(!odd.contains(ip("192.168.3.255")));

        let all = cidr("0.0.0.0/0");
        assert!(all.contains(ip("203.0.113.9")));
        assert!(
            !all.contains(ip("::1")),
            "IPv4 networks hold no IPv6 address"
        );
    }

    #[test]
    fn ipv6_networks_contain_their_addresses_only() {
        let doc = cidr("2001:db8::/32");
        assert!(doc.contains(ip("2001:db8::1")));
        assert!(doc.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!doc.contains(ip("2001:db9::")));
        let host = cidr("::1/128");
        assert!(host.contains(ip("::1")));
        assert!(!host.contains(ip("::2")));
        assert!(!host.contains(ip("127.0.0.1")));
        let all = cidr("::/0");
        assert!(all.contains(ip("fe80::1")));
        assert!(!all.contains(ip("10.0.0.1")));
        let odd = cidr("fd00:1234:5600::/41");
        assert!(odd.contains(ip("fd00:1234:567f:ffff::1")));
        assert!(!odd.contains(ip("fd00:1234:5680::")));
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        // A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d.
        assert!(cidr("127.0.0.1/32").contains(ip("::ffff:127.0.0.1")));
        assert!(!cidr("127.0.0.1/32").contains(ip("::ffff:127.0.0.2")));
        // A mapped network is the IPv4 network it names.
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert!(cidr("::ffff:10.0.0.0/104").contains(ip("10.1.2.3")));
        assert_eq!(cidr("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn bare_addresses_are_hosts() {
        assert_eq!(cidr("192.0.2.7"), cidr("192.0.2.7/32"));
        assert_eq!(cidr("2001:db8::7"), cidr("2001:db8::7/128"));
        assert_eq!(Cidr::host(ip("192.0.2.7")), cidr("192.0.2.7/32"));
        assert_eq!(cidr("192.0.2.7").prefix(), 32);
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "10.0.0.0/8",
            "127.0.0.1/32",
            "2001:db8::/32",
            "::/0",
            "0.0.0.0/0",
        ] {
            assert_eq!(cidr(text).to_string(), text);
        }
        assert_eq!(cidr("2001:0db8:0000::/48").to_string(), "2001:db8::/48");
    }

    #[test]
    fn malformed_networks_are_refused() {
        let parse = |text: &str| text.parse::<Cidr>();
        for bad in [
            "",
            "localhost",
            "10.0.0/8",
            "10.0.0.0.0/8",
            "[::1]/128",
            "::1%lo/128",
        ] {
            assert_eq!(parse(bad), Err(CidrError::Address), "{bad:?}");
        }
        for bad in [
            "10.0.0.0/",
            "10.0.0.0/33",
            "10.0.0.0/+8",
            "10.0.0.0/08",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/ 8",
            "::/129",
            "::/1000",
            "10.0.0.0/x",
        ] {
            assert_eq!(parse(bad), Err(CidrError::Prefix), "{bad:?}");
        }
        assert_eq!(
            parse("10.0.0.1/8"),
            Err(CidrError::HostBits(cidr("10.0.0.0/8")))
        );
        assert_eq!(
            parse("2001:db8::1/32"),
            Err(CidrError::HostBits(cidr("2001:db8::/32")))
        );
        assert_eq!(
            parse("10.0.0.1/8").unwrap_err().to_string(),
            "address bits set below the prefix length (did you mean 10.0.0.0/8?)"
        );
    }
}
