package delivery

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// These tests check the guard's decision only: nothing here connects to any
// of the addresses named.

func TestForbidden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr   string
		reason string // "" means allowed
	}{
		// Loopback.
		{"127.0.0.1", "loopback"},
		{"127.1.2.3", "loopback"},
		{"::1", "loopback"},
		// RFC 1918 and unique local.
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.254", "private"},
		{"192.168.0.1", "private"},
		{"192.168.255.255", "private"},
		{"fc00::1", "private"},
		{"fd12:3456:789a::1", "private"},
		// Cloud metadata, named as such.
		{"169.254.169.254", "metadata"},
		{"169.254.170.2", "metadata"},
		{"100.100.100.200", "metadata"},
		{"fd00:ec2::254", "metadata"},
		// Link-local.
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		// Unspecified, "this network", broadcast, multicast.
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this network"},
		{"255.255.255.255", "broadcast"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff05::2", "multicast"},
		// Other special-purpose ranges.
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.254", "carrier-grade NAT"},
		{"192.0.0.8", "IETF"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"2001:db8::1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"240.0.0.1", "reserved"},
		{"100::1", "discard"},
		// IPv4 inside IPv6: mapped and NAT64 forms reach the IPv4 address.
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:169.254.169.254", "metadata"},
		{"::ffff:192.168.1.1", "private"},
		{"64:ff9b::a00:1", "private"},          // 10.0.0.1
		{"64:ff9b::7f00:1", "loopback"},        // 127.0.0.1
		{"64:ff9b::a9fe:a9fe", "metadata"},     // 169.254.169.254
		{"64:ff9b::ac10:1", "private"},         // 172.16.0.1
		{"64:ff9b::6440:1", "carrier-grade"},   // 100.64.0.1
		{"64:ff9b::ffff:ffff", "broadcast"},    // 255.255.255.255
		{"64:ff9b::c0a8:101", "private"},       // 192.168.1.1
		{"64:ff9b:1::a00:1", "NAT64"},          // RFC 8215 local-use prefix
		{"64:ff9b::a9fe:1", "link-local"},      // 169.254.0.1
		{"64:ff9b::e000:1", "multicast"},       // 224.0.0.1
		{"64:ff9b::0:0", "unspecified"},        // 0.0.0.0
		{"64:ff9b::6464:64c8", "metadata"},     // 100.100.100.200
		{"::ffff:100.100.100.200", "metadata"}, // mapped Alibaba metadata
		// IPv4-compatible (::a.b.c.d), SIIT (::ffff:0:a.b.c.d), 6to4
		// (2002:AABB:CCDD::/48) and Teredo (client = NOT of the last 32
		// bits) reach the IPv4 address they embed.
		{"::127.0.0.1", "loopback address (127.0.0.1, embedded in this IPv4-compatible address)"},
		{"::10.0.0.1", "private"},
		{"::169.254.169.254", "metadata"},
		{"::ffff:0:127.0.0.1", "loopback address (127.0.0.1, embedded in this SIIT address)"},
		{"::ffff:0:a9fe:a9fe", "metadata"},                   // 169.254.169.254
		{"::ffff:0:c0a8:101", "private"},                     // 192.168.1.1
		{"2002:7f00:1::1", "loopback"},                       // 127.0.0.1
		{"2002:a9fe:a9fe::", "metadata"},                     // 169.254.169.254
		{"2002:c0a8:101:1::5", "private"},                    // 192.168.1.1
		{"2002:a00:1::1", "6to4"},                            // 10.0.0.1, named
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"}, // client 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:5601:5601", "metadata"}, // client 169.254.169.254
		{"2001::ffff:f5ff:fffe", "private"},                  // client 10.0.0.1
		{"2001::1:ffff:f5ff:fffe", "Teredo"},                 // client 10.0.0.1, named
		// Site-local (deprecated, fec0::/10).
		{"fec0::1", "site-local"},
		{"feff:ffff::1", "site-local"},
		// Public: allowed.
		{"1.1.1.1", ""},
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"172.15.255.255", ""}, // just below 172.16/12
		{"172.32.0.1", ""},     // just above it
		{"100.63.255.255", ""}, // just below 100.64/10
		{"100.128.0.1", ""},    // just above it
		{"169.253.255.255", ""},
		{"223.255.255.255", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},                     // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},                      // 6to4 of 8.8.8.8
		{"::ffff:0:808:808", ""},                     // SIIT of 8.8.8.8
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", ""}, // Teredo, client 8.8.8.8
		{"2606:4700::1111", ""},
		{"2001:4860:4860::8888", ""},
		{"2a00:1450:4001:81c::200e", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			reason, forbidden := Forbidden(netip.MustParseAddr(tt.addr))
			if tt.reason == "" {
				if forbidden {
					t.Fatalf("Forbidden(%s) = %q, true; want allowed", tt.addr, reason)
				}
				if reason != "" {
					t.Fatalf("Forbidden(%s) allows it with a reason %q", tt.addr, reason)
				}
				return
			}
			if !forbidden {
				t.Fatalf("Forbidden(%s) = false; want forbidden as %s", tt.addr, tt.reason)
			}
			if !strings.Contains(reason, tt.reason) {
				t.Fatalf("Forbidden(%s) reason = %q, want it to mention %q", tt.addr, reason, tt.reason)
			}
		})
	}
}

func TestForbiddenInvalidAddr(t *testing.T) {
	t.Parallel()
	if reason, forbidden := Forbidden(netip.Addr{}); !forbidden || reason == "" {
		t.Fatalf("Forbidden(zero Addr) = %q, %v; want forbidden", reason, forbidden)
	}
}

// TestGuardControl calls the dialer's Control function directly, as the
// dialer would just before connecting; no connection is made.
func TestGuardControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		network, address string
		wantAddr         string // "" means allowed
		reason           string
	}{
		{"tcp4", "10.0.0.1:80", "10.0.0.1", "private"},
		{"tcp4", "172.16.5.4:443", "172.16.5.4", "private"},
		{"tcp4", "192.168.1.1:8080", "192.168.1.1", "private"},
		{"tcp4", "127.0.0.1:8080", "127.0.0.1", "loopback"},
		{"tcp4", "169.254.169.254:80", "169.254.169.254", "metadata"},
		{"tcp4", "169.254.170.2:80", "169.254.170.2", "metadata"},
		{"tcp4", "100.100.100.200:80", "100.100.100.200", "metadata"},
		{"tcp4", "0.0.0.0:80", "0.0.0.0", "unspecified"},
		{"tcp4", "100.64.0.1:80", "100.64.0.1", "carrier-grade NAT"},
		{"tcp6", "[::1]:443", "::1", "loopback"},
		{"tcp6", "[fd00:ec2::254]:80", "fd00:ec2::254", "metadata"},
		{"tcp6", "[fe80::1%eth0]:80", "fe80::1%eth0", "link-local"},
		// The mapped form is reported as the IPv4 address it reaches.
		{"tcp6", "[::ffff:10.0.0.1]:443", "10.0.0.1", "private"},
		{"tcp6", "[64:ff9b::a00:1]:443", "64:ff9b::a00:1", "private"},
		{"tcp4", "1.1.1.1:443", "", ""},
		{"tcp4", "8.8.8.8:80", "", ""},
		{"tcp6", "[2606:4700::1111]:443", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := guardControl(tt.network, tt.address, nil)
			if tt.wantAddr == "" {
				if err != nil {
					t.Fatalf("guardControl(%s) = %v, want nil", tt.address, err)
				}
				return
			}
			var blocked *BlockedError
			if !errors.As(err, &blocked) {
				t.Fatalf("guardControl(%s) = %v (%T), want a *BlockedError", tt.address, err, err)
			}
			if blocked.Addr != netip.MustParseAddr(tt.wantAddr) {
				t.Errorf("BlockedError.Addr = %s, want %s", blocked.Addr, tt.wantAddr)
			}
			if !strings.Contains(blocked.Reason, tt.reason) {
				t.Errorf("BlockedError.Reason = %q, want it to mention %q", blocked.Reason, tt.reason)
			}
			msg := blocked.Error()
			if !strings.Contains(msg, "refused to connect to") || !strings.Contains(msg, blocked.Addr.String()) || !strings.Contains(msg, blocked.Reason) {
				t.Errorf("Error() = %q, want the address and the reason", msg)
			}
			if f := kindOf(err); f.kind != "blocked" {
				t.Errorf("kindOf = %q, want blocked", f.kind)
			}
		})
	}
}

func TestGuardControlBadAddress(t *testing.T) {
	t.Parallel()
	// Control only ever sees resolved addresses; anything else is refused.
	var blocked *BlockedError
	if err := guardControl("tcp", "example.com:80", nil); !errors.As(err, &blocked) {
		t.Errorf("guardControl(host name) = %v, want a *BlockedError", err)
	}
	if err := guardControl("tcp", "10.0.0.1", nil); err == nil {
		t.Error("guardControl(address without a port) = nil, want an error")
	}
}
