//! The box's address for the display: the first IPv4 address of an
//! interface that is up and not loopback, else its first global IPv6
//! address (getifaddrs(3)).

use std::net::{Ipv4Addr, Ipv6Addr};

/// The address to show, if the box has one.
pub fn first_address() -> Option<String> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut v4 = None;
    let mut v6 = None;
    let mut p = head;
    while !p.is_null() {
        // SAFETY: a node of the list getifaddrs returned.
        let ifa = unsafe { &*p };
        p = ifa.ifa_next;
        let flags = ifa.ifa_flags;
        if ifa.ifa_addr.is_null()
            || flags & libc::IFF_UP as u32 == 0
            || flags & libc::IFF_LOOPBACK as u32 != 0
        {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr of the family it names.
        match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
            libc::AF_INET if v4.is_none() => {
                // SAFETY: family AF_INET: a sockaddr_in.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                v4 = Some(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)).to_string());
            }
            libc::AF_INET6 if v6.is_none() => {
                // SAFETY: family AF_INET6: a sockaddr_in6.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                // link-local (fe80::/10) says nothing to a person
                if ip.segments()[0] & 0xffc0 != 0xfe80 {
                    v6 = Some(ip.to_string());
                }
            }
            _ => {}
        }
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(head) };
    v4.or(v6)
}
