package warehouse

import (
	"encoding/binary"
)

// helloBlock encodes the one-row answer to clickhouse-go's hello query in the
// Native format. It reports revision 0 on purpose: clickhouse-go (v2.38+)
// decodes every later result at the revision the server reported, and the
// engine's Native output is revision 0 (no block info, no custom-serialization
// byte). The block itself is laid out for the revision the client asked for.
func helloBlock(clientRevision uint64, displayName, version, timezone string) []byte {
	withInfo := clientRevision > 0
	var b []byte
	if withInfo {
		// BlockInfo: field 1 is_overflows=0, field 2 bucket_num=-1, end marker 0.
		b = append(b, 0x01, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00)
	}
	b = binary.AppendUvarint(b, 4) // columns
	b = binary.AppendUvarint(b, 1) // rows
	column := func(name, typ string, data []byte) {
		b = appendString(b, name)
		b = appendString(b, typ)
		if withInfo {
			b = append(b, 0x00) // no custom serialization
		}
		b = append(b, data...)
	}
	column("displayName()", "String", appendString(nil, displayName))
	column("version()", "String", appendString(nil, version))
	column("revision()", "UInt32", binary.LittleEndian.AppendUint32(nil, 0))
	column("timezone()", "String", appendString(nil, timezone))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}
