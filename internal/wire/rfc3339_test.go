package wire

import (
	"testing"
	"time"
)

func TestValidRFC3339(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"2006-01-02T15:04:05Z", true},
		{"2006-01-02T15:04:05.1Z", true},
		{"2006-01-02T15:04:05.123456789Z", true},
		{"2006-01-02T15:04:05-07:00", true},
		{"2006-01-02T15:04:05.5+23:59", true},
		{"0000-01-01T00:00:00Z", true},
		{"9999-12-31T23:59:59.999999999Z", true},
		{"2000-02-29T00:00:00Z", true},
		{"2024-02-29T00:00:00Z", true},
		{"2023-02-29T00:00:00Z", false},
		{"1900-02-29T00:00:00Z", false},
		{"2006-04-31T00:00:00Z", false},
		{"2006-00-01T00:00:00Z", false},
		{"2006-13-01T00:00:00Z", false},
		{"2006-01-00T00:00:00Z", false},
		{"2006-01-02T24:00:00Z", false},
		{"2006-01-02T23:60:00Z", false},
		{"2006-01-02T23:59:60Z", false},
		{"2006-01-02t15:04:05Z", false},
		{"2006-01-02 15:04:05Z", false},
		{"2006-01-02T15:04:05z", false},
		{"2006-01-02T15:04:05", false},
		{"2006-01-02T15:04:05.Z", false},
		{"2006-01-02T15:04:05.1234567890Z", false},
		{"2006-01-02T15:04:05,1Z", false},
		{"2006-01-02T15:04:05+24:00", false},
		{"2006-01-02T15:04:05+07:60", false},
		{"2006-01-02T15:04:05+0700", false},
		{"2006-01-02T15:04:05+07:00Z", false},
		{"+2006-01-02T15:04:05Z", false},
		{"2006-1-02T15:04:05Z", false},
		{"2006-01-02T15:04:5Z", false},
		{"20a6-01-02T15:04:05Z", false},
		{"", false},
	}
	for _, tc := range tests {
		got := ValidRFC3339([]byte(tc.in))
		if got != tc.want {
			t.Errorf("ValidRFC3339(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if got {
			if _, err := time.Parse(time.RFC3339, tc.in); err != nil {
				t.Errorf("ValidRFC3339(%q) = true but time.Parse fails: %v", tc.in, err)
			}
		}
	}
}

// FuzzValidRFC3339 checks that every text ValidRFC3339 accepts is read by
// time.Parse, to the nanosecond.
func FuzzValidRFC3339(f *testing.F) {
	for _, s := range []string{
		"2006-01-02T15:04:05Z", "2006-01-02T15:04:05.123456789-07:00",
		"2000-02-29T23:59:59+14:00", "2006-01-02T15:04:05.5Z", "9999-12-31T23:59:59Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidRFC3339([]byte(s)) {
			return
		}
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatalf("ValidRFC3339(%q) = true but time.Parse fails: %v", s, err)
		}
		back, err := time.Parse(time.RFC3339Nano, tm.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q parsed as %v does not survive formatting: %v, %v", s, tm, back, err)
		}
	})
}
