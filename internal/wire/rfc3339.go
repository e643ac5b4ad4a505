package wire

// maxRFC3339 is the length of the longest date-time ValidRFC3339 accepts,
// "2006-01-02T15:04:05.999999999-07:00".
const maxRFC3339 = len("2006-01-02T15:04:05.999999999-07:00")

// ValidRFC3339 reports whether b is an RFC 3339 date-time of the form
// "2006-01-02T15:04:05Z", with an optional fraction of one to nine digits
// after the seconds and "Z" or a numeric offset such as "-07:00". The fields
// must be in range (a day that the month has, no leap second), and "T" and
// "Z" must be upper case. That is the form Go's time package writes and
// reads exactly, to the nanosecond, so every text accepted here parses.
func ValidRFC3339(b []byte) bool {
	const short = len("2006-01-02T15:04:05")
	if len(b) < short+1 || len(b) > maxRFC3339 {
		return false
	}
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return false
	}
	year, ok1 := decimal(b[0:4], 0, 9999)
	month, ok2 := decimal(b[5:7], 1, 12)
	if !ok1 || !ok2 {
		return false
	}
	if _, ok := decimal(b[8:10], 1, daysIn(month, year)); !ok {
		return false
	}
	_, ok1 = decimal(b[11:13], 0, 23)
	_, ok2 = decimal(b[14:16], 0, 59)
	_, ok3 := decimal(b[17:19], 0, 59)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	rest := b[short:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		rest = rest[n:]
	}
	if len(rest) == 1 {
		return rest[0] == 'Z'
	}
	if len(rest) != len("-07:00") || rest[0] != '+' && rest[0] != '-' || rest[3] != ':' {
		return false
	}
	_, ok1 = decimal(rest[1:3], 0, 23)
	_, ok2 = decimal(rest[4:6], 0, 59)
	return ok1 && ok2
}

// decimal parses b, which must be all digits, and reports whether the value
// is within [lo, hi].
func decimal(b []byte, lo, hi int) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, lo <= v && v <= hi
}

// daysIn returns the number of days in month of the proleptic Gregorian year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
