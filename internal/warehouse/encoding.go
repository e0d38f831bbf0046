package warehouse

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// maxCompressBlockSize is ClickHouse's max_compress_block_size default: a
// compressed response is cut into blocks of at most this much data.
const maxCompressBlockSize = 1 << 20

// compressionMethod reads network_compression_method, the codec of
// ClickHouse's compressed blocks.
func compressionMethod(name string) (compress.Method, error) {
	switch strings.ToUpper(name) {
	case "LZ4":
		return compress.LZ4, nil
	case "LZ4HC":
		return compress.LZ4HC, nil
	case "ZSTD":
		return compress.ZSTD, nil
	case "NONE":
		return compress.None, nil
	}
	return 0, &Exception{Code: codeUnknownCompressionMethod, Message: fmt.Sprintf("Unknown compression method: '%s'. (UNKNOWN_COMPRESSION_METHOD)", name)}
}

// compressBlocks frames data as ClickHouse's compressed blocks (CityHash128
// checksum, method, sizes, payload), as a server does for compress=1.
func compressBlocks(data []byte, method compress.Method) ([]byte, error) {
	w := compress.NewWriter(compress.LevelZero, method)
	var out []byte
	for len(data) > 0 {
		n := min(len(data), maxCompressBlockSize)
		if err := w.Compress(data[:n]); err != nil {
			return nil, fmt.Errorf("compress response: %w", err)
		}
		out = append(out, w.Data...)
		data = data[n:]
	}
	return out, nil
}

// blockHeaderSize is a compressed block's checksum (16 bytes), method (1),
// compressed size (4) and data size (4).
const blockHeaderSize = 16 + 1 + 4 + 4

// decompressBlocks undoes ClickHouse's compressed blocks (decompress=1): any
// codec, each block's checksum verified, at most limit bytes of data.
func decompressBlocks(body []byte, limit int64) ([]byte, error) {
	var out []byte
	for len(body) > 0 {
		if len(body) < blockHeaderSize {
			return nil, &Exception{Code: codeCannotDecompress, Message: fmt.Sprintf("Cannot decompress the request body: %d bytes left, too few for a compressed block header (decompress=1 expects ClickHouse compressed blocks). (CANNOT_DECOMPRESS)", len(body))}
		}
		size := int64(binary.LittleEndian.Uint32(body[17:21])) // method byte, sizes and payload
		dataSize := int64(binary.LittleEndian.Uint32(body[21:25]))
		if size < blockHeaderSize-16 || 16+size > int64(len(body)) {
			return nil, &Exception{Code: codeCannotDecompress, Message: fmt.Sprintf("Cannot decompress the request body: a block claims %d compressed bytes, %d are left. (CANNOT_DECOMPRESS)", size, len(body)-16)}
		}
		if dataSize > limit-int64(len(out)) {
			return nil, fmt.Errorf("%w: limit is %d bytes", errBodyTooLarge, limit)
		}
		block := make([]byte, dataSize)
		if _, err := io.ReadFull(compress.NewReader(bytes.NewReader(body[:16+size])), block); err != nil {
			var corrupt *compress.CorruptedDataErr
			if errors.As(err, &corrupt) {
				return nil, &Exception{Code: codeChecksumDoesntMatch, Message: "Checksum doesn't match: corrupted data. Reference: " +
					compress.FormatU128(corrupt.Reference) + ". Actual: " + compress.FormatU128(corrupt.Actual) + ". (CHECKSUM_DOESNT_MATCH)"}
			}
			return nil, &Exception{Code: codeCannotDecompress, Message: "Cannot decompress the request body: " + err.Error() + ". (CANNOT_DECOMPRESS)"}
		}
		out = append(out, block...)
		body = body[16+size:]
	}
	return out, nil
}

// contentDecoder undoes a request's HTTP Content-Encoding.
func contentDecoder(in io.Reader, encoding string) (io.Reader, func(), error) {
	nop := func() {}
	fail := func(err error) (io.Reader, func(), error) {
		return nil, nop, &Exception{Code: codeCannotDecompress, Message: fmt.Sprintf("Cannot decompress %s request body: %v. (CANNOT_DECOMPRESS)", encoding, err)}
	}
	switch enc := strings.ToLower(strings.TrimSpace(encoding)); enc {
	case "", "identity", "none":
		return in, nop, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return fail(err)
		}
		return zr, nop, nil
	case "deflate":
		zr, err := zlib.NewReader(in)
		if err != nil {
			return fail(err)
		}
		return zr, nop, nil
	case "br":
		return brotli.NewReader(in), nop, nil
	case "zstd":
		zr, err := zstd.NewReader(in)
		if err != nil {
			return fail(err)
		}
		return zr, zr.Close, nil
	case "lz4":
		return lz4.NewReader(in), nop, nil
	default:
		return nil, nop, &Exception{Code: codeUnknownCompressionMethod, Message: fmt.Sprintf("Unknown Content-Encoding of HTTP request: %s. (UNKNOWN_COMPRESSION_METHOD)", enc)}
	}
}

// responseEncodings are the HTTP encodings the server can compress an
// answer with, in ClickHouse's order of preference (it prefers zstd, then
// br, lz4, snappy, gzip, deflate, xz, bz2; snappy, xz and bz2 are not
// offered here, so a client that accepts only those gets identity).
var responseEncodings = []string{"zstd", "br", "lz4", "gzip", "deflate"}

// chooseEncoding picks the answer's Content-Encoding from Accept-Encoding,
// matching names as ClickHouse does (by substring).
func chooseEncoding(accept string) string {
	accept = strings.ToLower(accept)
	for _, e := range responseEncodings {
		if strings.Contains(accept, e) {
			return e
		}
	}
	return ""
}

// encodeBody applies compress=1 and then the HTTP Content-Encoding to an
// answer's body, setting the header it needs.
func encodeBody(req *httpRequest, data []byte, h http.Header) ([]byte, error) {
	if req.compress {
		var err error
		if data, err = compressBlocks(data, req.compressMethod); err != nil {
			return nil, err
		}
	}
	if req.encoding == "" {
		return data, nil
	}
	var buf bytes.Buffer
	var w io.WriteCloser
	switch req.encoding {
	case "gzip":
		w, _ = gzip.NewWriterLevel(&buf, req.zlibLevel)
	case "deflate":
		w, _ = zlib.NewWriterLevel(&buf, req.zlibLevel)
	case "br":
		w = brotli.NewWriterLevel(&buf, req.zlibLevel)
	case "zstd":
		zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(req.zlibLevel)))
		if err != nil {
			return nil, fmt.Errorf("zstd response: %w", err)
		}
		w = zw
	case "lz4":
		w = lz4.NewWriter(&buf)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("%s response: %w", req.encoding, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("%s response: %w", req.encoding, err)
	}
	h.Set("Content-Encoding", req.encoding)
	return buf.Bytes(), nil
}
