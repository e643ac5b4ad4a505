package wire

// NextCBOR and NextMsgpack measure the first value of a sequence with the
// nesting a body may have, as the tests check them against CheckCBOR and
// CheckMsgpack.
func NextCBOR(data []byte) (int, error) { return NextCBORDepth(data, MaxDepth) }

func NextMsgpack(data []byte) (int, error) { return NextMsgpackDepth(data, MaxDepth) }
