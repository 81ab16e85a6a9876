package delivery

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// blockedPrefixes are address ranges that are not on the public internet and
// that netip's own predicates do not cover.
var blockedPrefixes = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a 'this network' address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
}

// metadataAddrs are cloud instance-metadata endpoints, named apart because
// reaching one is the usual goal of a server-side request forgery.
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true, // AWS, GCP, Azure, OpenStack…
	netip.MustParseAddr("169.254.170.2"):   true, // AWS ECS task metadata
	netip.MustParseAddr("100.100.100.200"): true, // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"):   true, // AWS over IPv6
}

// IPv6 forms that carry an IPv4 address and may reach it: each is judged by
// the IPv4 address it embeds.
var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")    // NAT64: the last four bytes
	compatible = netip.MustParsePrefix("::/96")           // IPv4-compatible (deprecated): the last four bytes
	siit       = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT IPv4-translated: the last four bytes
	sixToFour  = netip.MustParsePrefix("2002::/16")       // 6to4: bytes 2–5
	teredo     = netip.MustParsePrefix("2001::/32")       // Teredo: the client, the last four bytes inverted
)

// embeddedIPv4 returns the IPv4 address an IPv6 address reaches through a
// translation or tunnel form, and that form's name.
func embeddedIPv4(ip netip.Addr) (netip.Addr, string, bool) {
	if !ip.Is6() {
		return netip.Addr{}, "", false
	}
	b := ip.As16()
	last := [4]byte(b[12:])
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4(last), "NAT64", true
	case compatible.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
		return netip.AddrFrom4(last), "IPv4-compatible", true
	case siit.Contains(ip):
		return netip.AddrFrom4(last), "SIIT", true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), "6to4", true
	case teredo.Contains(ip):
		return netip.AddrFrom4([4]byte{^last[0], ^last[1], ^last[2], ^last[3]}), "Teredo", true
	}
	return netip.Addr{}, "", false
}

// Forbidden reports whether labhooks must not connect to ip by default, and
// why, in words for the partner. An IPv6 address that embeds an IPv4 address
// (mapped, IPv4-compatible, SIIT, NAT64, 6to4, Teredo) is judged by that
// IPv4 address.
func Forbidden(ip netip.Addr) (reason string, forbidden bool) {
	ip = ip.Unmap()
	if v4, form, ok := embeddedIPv4(ip); ok {
		reason, forbidden := forbidden4or6(v4)
		if forbidden {
			reason = fmt.Sprintf("%s (%s, embedded in this %s address)", reason, v4, form)
		}
		return reason, forbidden
	}
	return forbidden4or6(ip)
}

// forbidden4or6 judges ip as it is, without looking inside it.
func forbidden4or6(ip netip.Addr) (reason string, forbidden bool) {
	switch {
	case !ip.IsValid():
		return "not a valid address", true
	case metadataAddrs[ip]:
		return "a cloud metadata address", true
	case ip.IsLoopback():
		return "a loopback address", true
	case ip.IsPrivate():
		return "a private-network address", true
	case ip.IsLinkLocalUnicast():
		return "a link-local address", true
	case ip.IsUnspecified():
		return "an unspecified address", true
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "a multicast address", true
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address", true
	}
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(ip) {
			return b.reason, true
		}
	}
	return "", false
}

// BlockedError is returned when a data link's host resolves to an address
// labhooks refuses to connect to.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: it is %s", e.Addr, e.Reason)
}

// guardControl is a net.Dialer Control function. It runs after DNS
// resolution, on the very address about to be dialled, so a host name that
// resolves (or re-resolves) to a private address is caught too.
func guardControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &BlockedError{Reason: "not an IP address"}
	}
	if reason, bad := Forbidden(ip); bad {
		return &BlockedError{Addr: ip.Unmap(), Reason: reason}
	}
	return nil
}
