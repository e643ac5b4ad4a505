package records

// MergePatch applies an RFC 7396 merge patch to target and returns the
// result; target is modified. A null member removes the field, an object
// member merges recursively, anything else replaces.
func MergePatch(target map[string]any, patch map[string]any) map[string]any {
	if target == nil {
		target = make(map[string]any, len(patch))
	}
	for k, pv := range patch {
		switch pv := pv.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			sub, _ := target[k].(map[string]any)
			target[k] = MergePatch(sub, pv)
		default:
			target[k] = pv
		}
	}
	return target
}

// replaces reports whether the merge patch replaces or removes the value at
// path (object keys from the root) of a document it is applied to: it sets
// the path, or a value on the way that is not an object.
func replaces(patch map[string]any, path []string) bool {
	m := patch
	for i, seg := range path {
		x, ok := m[seg]
		if !ok {
			return false
		}
		sub, isObject := x.(map[string]any)
		if i == len(path)-1 || !isObject {
			return true
		}
		m = sub
	}
	return false
}
