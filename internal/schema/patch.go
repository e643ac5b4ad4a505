package schema

// CheckMergePatch checks a merge patch (RFC 7396) against this version's
// fields before it is merged. A member set to null removes a field, and
// merging drops one the version lacks without a trace, so a client that
// misspelt the field it meant to clear would be told its patch was
// applied. Each such member, in the patch's objects and in the objects it
// patches within maps, is a problem.Invalid error with rule
// "unknown_field", as a write's unknown field is. Members with a value
// stay in the merged record, where FromMap reports them.
func (v *Version) CheckMergePatch(patch map[string]any) error {
	var fl filler
	fl.unknownNulls(v.c.root, patch)
	return v.malformed(&fl)
}

func (fl *filler) unknownNulls(n *node, patch map[string]any) {
	switch n.kind {
	case kindObject:
		for _, key := range sortedKeys(patch) {
			mark := fl.push(key)
			f, known := n.byName[key]
			sub, isObject := patch[key].(map[string]any)
			switch {
			case !known && patch[key] == nil:
				fl.malformedf("unknown_field", "unknown field")
			case known && isObject:
				fl.unknownNulls(f.node, sub)
			}
			fl.pop(mark)
		}
	case kindMap:
		for _, key := range sortedKeys(patch) {
			if sub, isObject := patch[key].(map[string]any); isObject {
				mark := fl.pushKey(key)
				fl.unknownNulls(n.elem, sub)
				fl.pop(mark)
			}
		}
	}
}
