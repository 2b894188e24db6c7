// Package clientkey names the client behind an address, for limits that
// count per client: sign-in attempts, live streams.
package clientkey

import "net/netip"

// Of is what requests from the client at ip are counted under: the
// address itself, or for IPv6 its /64, a subscriber's usual share, within
// which a client could otherwise take a new address for every request.
// An IPv4 address written as IPv6 (::ffff:a.b.c.d) is that IPv4 address.
func Of(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
