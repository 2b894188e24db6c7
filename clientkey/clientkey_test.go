package clientkey

import "testing"

func TestOf(t *testing.T) {
	for _, tt := range []struct{ ip, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := Of(tt.ip); got != tt.want {
			t.Errorf("Of(%q) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
