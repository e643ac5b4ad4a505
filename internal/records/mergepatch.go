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
