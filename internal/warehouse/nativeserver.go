package warehouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
	"github.com/rs/zerolog"
	"github.com/shopstream/shopstream/internal/chsql"
)

// The native protocol.
//
// ServeNative speaks ClickHouse's native TCP protocol (the one clickhouse-go,
// clickhouse-driver and clickhouse-client use on port 9000) in front of the
// same engine, slots and limits as the HTTP interface. Packets are encoded
// and decoded with ch-go's proto package and compressed with its compress
// package; blocks are converted between the client's revision and the
// engine's Native format (see nativeblock.go).
//
// A connection is a session: it holds one engine handle, so USE and SET last
// until it closes, while settings sent with a query last for that query.
// While the engine runs a statement the connection is watched: a Cancel
// packet, or the client hanging up, kills the statement in the engine
// (KILL QUERY, found by a tag the statement carries) and the query ends
// with EndOfStream.

// ClickHouse error codes of the native protocol.
const (
	codeUnexpectedPacket    = 101 // UNEXPECTED_PACKET_FROM_CLIENT
	codeUnknownPacket       = 99  // UNKNOWN_PACKET_FROM_CLIENT
	codeNoSuchColumnInTable = 16
	codeIncorrectData       = 117
)

// maxFrame is the largest compressed frame sent, as ClickHouse's
// max_compress_block_size: clients read frames of at most this much.
const maxFrame = 1 << 20

// ServeNative answers the native protocol on ln until ctx is done. Open
// connections are closed then; queries running in the engine finish first.
func (s *Server) ServeNative(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range open {
			_ = c.Close()
		}
	})
	defer stop()
	var err error
	for {
		var nc net.Conn
		nc, err = ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		open[nc] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			defer func() {
				mu.Lock()
				delete(open, nc)
				mu.Unlock()
				_ = nc.Close()
			}()
			c := &nativeConn{s: s, nc: nc, r: proto.NewReader(nc), log: s.opts.Logger.With().Str("client", nc.RemoteAddr().String()).Logger()}
			if err := c.serve(); err != nil && !isDisconnect(err) {
				c.log.Debug().Err(err).Msg("native connection ended")
			}
			c.close()
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("serve native protocol: %w", err)
}

func isDisconnect(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// nativeConn is one client connection.
type nativeConn struct {
	s   *Server
	nc  net.Conn
	r   *proto.Reader
	buf proto.Buffer
	log zerolog.Logger

	rev    int // negotiated protocol revision
	hello  proto.ClientHello
	engine Conn        // the connection's session handle
	state  handleState // what the connection's own statements set on it

	compressors map[compress.Method]*compress.Writer
}

func (c *nativeConn) close() {
	if c.engine != nil {
		c.engine.Close()
	}
}

// flush writes the buffered packets.
func (c *nativeConn) flush() error {
	if len(c.buf.Buf) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.buf.Buf)
	c.buf.Reset()
	if err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	return nil
}

func (c *nativeConn) packet() (proto.ClientCode, error) {
	n, err := c.r.UVarInt()
	if err != nil {
		return 0, err
	}
	return proto.ClientCode(n), nil
}

// serve runs the handshake, then answers packets until the client leaves.
func (c *nativeConn) serve() error {
	if err := c.handshake(); err != nil {
		return err
	}
	for {
		// A connection that sends nothing for idle_connection_timeout is
		// closed, as ClickHouse does.
		_ = c.nc.SetReadDeadline(time.Now().Add(c.s.opts.IdleConnectionTimeout))
		p, err := c.packet()
		_ = c.nc.SetReadDeadline(time.Time{})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.log.Debug().Dur("idle_connection_timeout", c.s.opts.IdleConnectionTimeout).Msg("idle native connection closed")
			return nil
		}
		if err != nil {
			return err
		}
		switch p {
		case proto.ClientCodePing:
			proto.ServerCodePong.Encode(&c.buf)
		case proto.ClientCodeQuery:
			if err := c.query(); err != nil {
				return err
			}
		case proto.ClientCodeCancel:
			// A cancel that arrived after its query ended.
			continue
		case proto.ClientCodeData:
			return c.fatal(&Exception{Code: codeUnexpectedPacket, Message: "Unexpected packet Data received from client. (UNEXPECTED_PACKET_FROM_CLIENT)"})
		default:
			return c.fatal(&Exception{Code: codeUnknownPacket, Message: fmt.Sprintf("Unknown packet %d from client. (UNKNOWN_PACKET_FROM_CLIENT)", p)})
		}
		if err := c.flush(); err != nil {
			return err
		}
	}
}

// fatal sends an exception and ends the connection: the stream's state is
// no longer known.
func (c *nativeConn) fatal(err error) error {
	c.exception(err)
	if ferr := c.flush(); ferr != nil {
		return ferr
	}
	return err
}

func (c *nativeConn) handshake() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	p, err := c.packet()
	if err != nil {
		return err
	}
	if p != proto.ClientCodeHello {
		return c.fatal(&Exception{Code: codeUnexpectedPacket, Message: fmt.Sprintf("Unexpected packet from client (expected Hello, got %d). (UNEXPECTED_PACKET_FROM_CLIENT)", p)})
	}
	if err := c.hello.Decode(c.r); err != nil {
		return fmt.Errorf("decode hello: %w", err)
	}
	c.rev = min(c.hello.ProtocolVersion, proto.Version)
	c.log = c.log.With().Str("client_name", c.hello.Name).Int("revision", c.rev).Logger()
	// The same check as HTTP's: a wrong user or password is an exception
	// (516) in answer to the hello, and the connection ends.
	if err := c.s.opts.Credentials.Authenticate(c.hello.User, c.hello.Password); err != nil {
		return c.fatal(err)
	}
	major, minor, patch := versionParts(c.s.version)
	hello := proto.ServerHello{Name: "ClickHouse", Major: major, Minor: minor, Patch: patch,
		Revision: proto.Version, Timezone: c.s.timezone, DisplayName: displayName}
	hello.EncodeAware(&c.buf, c.rev)
	if err := c.flush(); err != nil {
		return err
	}
	if proto.FeatureAddendum.In(c.rev) {
		if _, err := c.r.Str(); err != nil { // quota key
			return fmt.Errorf("read hello addendum: %w", err)
		}
	}
	conn, err := c.s.engine.Open()
	if err != nil {
		return c.fatal(err)
	}
	c.engine = conn
	if _, err := conn.Query("SET max_memory_usage = "+strconv.FormatInt(c.s.opts.MaxMemoryUsage, 10), "TabSeparated"); err != nil {
		return c.fatal(err)
	}
	if db := c.hello.Database; db != "" {
		if _, err := conn.Query("USE "+quoteIdentifier(db), "TabSeparated"); err != nil {
			return c.fatal(err)
		}
	}
	return nil
}

// versionParts splits "26.5.1.1" into 26, 5, 1.
func versionParts(v string) (major, minor, patch int) {
	parts := strings.Split(v, ".")
	nums := make([]int, 3)
	for i := 0; i < len(parts) && i < 3; i++ {
		nums[i], _ = strconv.Atoi(parts[i])
	}
	return nums[0], nums[1], nums[2]
}

// exception buffers an Exception packet for err.
func (c *nativeConn) exception(err error) {
	var ex *Exception
	switch {
	case errors.Is(err, errBodyTooLarge), errors.Is(err, errBlockTooLarge):
		ex = &Exception{Code: codeBadArguments, Message: "Data block is too large: " + err.Error()}
	default:
		ex = asException(err)
	}
	proto.ServerCodeException.Encode(&c.buf)
	(&proto.Exception{Code: proto.Error(ex.Code), Name: "DB::Exception", Message: ex.Message}).EncodeAware(&c.buf, c.rev)
}

// queryState is one query on the connection.
type queryState struct {
	q          proto.Query
	compressed bool
	method     compress.Method
	started    time.Time
}

// query answers one Query packet and everything that belongs to it. It
// returns an error only when the connection cannot go on.
func (c *nativeConn) query() error {
	st := &queryState{started: time.Now(), method: compress.LZ4}
	if err := st.q.DecodeAware(c.r, c.rev); err != nil {
		return fmt.Errorf("decode query: %w", err)
	}
	st.compressed = st.q.Compression == proto.CompressionEnabled
	var settings [][2]string
	var optional map[string]bool
	for _, s := range st.q.Settings {
		v := s.Value
		if s.Custom {
			v = unquoteFieldDump(v)
		}
		if s.Key == "network_compression_method" {
			switch strings.ToLower(v) {
			case "lz4":
				st.method = compress.LZ4
			case "lz4hc":
				st.method = compress.LZ4HC
			case "zstd":
				st.method = compress.ZSTD
			case "none":
				st.method = compress.None
			}
		}
		settings = append(settings, [2]string{s.Key, v})
		if !s.Important {
			if optional == nil {
				optional = map[string]bool{}
			}
			optional[s.Key] = true
		}
	}
	params := make(map[string]string, len(st.q.Parameters))
	for _, p := range st.q.Parameters {
		params[p.Key] = unquoteFieldDump(p.Value)
	}
	// External tables come first, ended by an empty block.
	for {
		name, h, err := c.skipClientBlock(st)
		if err != nil {
			return err
		}
		if h.columns == 0 && h.rows == 0 {
			break
		}
		if name != "" || h.rows > 0 {
			return c.fatal(&Exception{Code: codeNotImplemented, Message: "External tables are not supported by the embedded warehouse"})
		}
	}
	c.log.Debug().Str("query_id", st.q.ID).Str("query", st.q.Body).Msg("native query")

	select {
	case c.s.slots <- struct{}{}:
		defer func() { <-c.s.slots }()
	case <-time.After(5 * time.Minute):
		c.exception(&Exception{Code: 202, Message: "Too many simultaneous queries. (TOO_MANY_SIMULTANEOUS_QUERIES)"})
		return nil
	}
	keep, err := c.querySettings(settings, optional)
	if err != nil {
		c.exception(err)
		return nil
	}
	text := newStatementText(st.q.Body)
	ins, pushed := pushedInsert(st.q.Body)
	b, err := c.s.bind(c.engine, &c.state, text, keep, params, ins)
	if err != nil {
		c.exception(err)
		return nil
	}
	var ran bool
	if pushed {
		err = c.insert(st, ins)
	} else {
		ran, err = c.sel(st, text)
	}
	if ran && text.keyword() == "SET" {
		c.state.noteSet(text)
	}
	if uerr := b.undo(); uerr != nil {
		// The connection's session no longer holds what it set: end it.
		if err == nil {
			_ = c.flush()
		}
		return uerr
	}
	return err
}

// skipClientBlock reads a Data packet whose data the server does not use
// (the external tables part of a query).
func (c *nativeConn) skipClientBlock(st *queryState) (string, blockHeader, error) {
	name, _, h, err := c.readClientBlock(st, nil)
	return name, h, err
}

// readClientBlock reads one Data packet and appends its block, laid out for
// the engine, to out.
func (c *nativeConn) readClientBlock(st *queryState, out []byte) (string, []byte, blockHeader, error) {
	p, err := c.packet()
	if err != nil {
		return "", out, blockHeader{}, err
	}
	switch p {
	case proto.ClientCodeData:
	case proto.ClientCodeCancel:
		return "", out, blockHeader{}, errCancelled
	default:
		return "", out, blockHeader{}, c.fatal(&Exception{Code: codeUnexpectedPacket, Message: fmt.Sprintf("Unexpected packet %d received from client, expected Data. (UNEXPECTED_PACKET_FROM_CLIENT)", p)})
	}
	var data proto.ClientData
	if err := data.DecodeAware(c.r, c.rev); err != nil {
		return "", out, blockHeader{}, fmt.Errorf("decode data packet: %w", err)
	}
	if st.compressed {
		c.r.EnableCompression()
		defer c.r.DisableCompression()
	}
	out, h, err := convertBlock(c.r, c.rev, 0, out, int(c.s.opts.MaxBodyBytes))
	if err != nil {
		// The rest of the stream cannot be found: answer and hang up.
		return "", out, h, c.fatal(&Exception{Code: codeIncorrectData, Message: "Cannot read block from client: " + err.Error()})
	}
	return data.TableName, out, h, nil
}

// errCancelled is a query the client cancelled.
var errCancelled = errors.New("query cancelled by the client")

// querySettings returns the query's settings the engine applies: not the
// transport's, and not unknown ones the client did not mark important
// (ClickHouse ignores those).
func (c *nativeConn) querySettings(settings [][2]string, optional map[string]bool) ([][2]string, error) {
	var keep [][2]string
	for _, kv := range settings {
		if kv[0] == "network_compression_method" || kv[0] == "network_zstd_compression_level" {
			continue // the transport's, applied here
		}
		keep = append(keep, kv)
	}
	if len(optional) == 0 {
		return keep, nil
	}
	known, err := c.s.settingNames()
	if err != nil {
		return nil, err
	}
	filtered := keep[:0]
	for _, kv := range keep {
		if known[kv[0]] || !optional[kv[0]] {
			filtered = append(filtered, kv)
		}
	}
	return filtered, nil
}

// unquoteFieldDump turns a quoted Field dump ('text' with backslash
// escapes), how clients send parameter and custom setting values, into
// its text. Anything else is returned as is.
func unquoteFieldDump(v string) string {
	if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return v
	}
	in := v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		ch := in[i]
		if ch != '\\' || i+1 == len(in) {
			b.WriteByte(ch)
			continue
		}
		i++
		switch in[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(in[i])
		}
	}
	return b.String()
}

// errClientGone is a client that hung up while its statement ran.
var errClientGone = errors.New("client closed the connection during the query")

// run executes a statement in the engine while watching the connection for
// a Cancel. It reports whether the client cancelled; its error is the
// engine's, or errClientGone.
func (c *nativeConn) run(sql, format string) (Result, bool, error) {
	tag := "/* shopstream-native " + newQueryID() + " */ "
	type outcome struct {
		res Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := c.engine.Query(tag+sql, format)
		done <- outcome{res, err}
	}()
	watched := make(chan error, 1)
	go func() {
		p, err := c.packet()
		if err == nil && p != proto.ClientCodeCancel {
			err = fmt.Errorf("packet %d while a query runs", p)
		}
		watched <- err
	}()
	select {
	case o := <-done:
		// Stop watching: an expired deadline ends the pending read
		// without consuming anything.
		_ = c.nc.SetReadDeadline(time.Now())
		werr := <-watched
		_ = c.nc.SetReadDeadline(time.Time{})
		switch {
		case werr == nil:
			return o.res, true, nil // cancelled as it finished
		case errors.Is(werr, os.ErrDeadlineExceeded):
			return o.res, false, o.err
		}
		return o.res, false, errClientGone
	case werr := <-watched:
		c.kill(tag)
		o := <-done
		if werr != nil {
			return o.res, false, errClientGone
		}
		return o.res, true, nil
	}
}

// kill stops the engine statement that starts with tag.
func (c *nativeConn) kill(tag string) {
	h, err := c.s.engine.Open()
	if err != nil {
		c.log.Warn().Err(err).Msg("cannot open a handle to kill a cancelled query")
		return
	}
	defer h.Close()
	if _, err := h.Query("KILL QUERY WHERE startsWith(query, "+quoteString(tag)+") ASYNC", "TabSeparated"); err != nil {
		c.log.Warn().Err(err).Msg("kill a cancelled query")
	}
}

// sel runs a statement that is not a pushed insert and sends its result.
// It reports whether the statement ran to its end.
func (c *nativeConn) sel(st *queryState, text statementText) (bool, error) {
	sql := stripFormat(st.q.Body)
	res, cancelled, err := c.run(sql, "Native")
	switch {
	case errors.Is(err, errClientGone):
		return false, err
	case cancelled:
		proto.ServerCodeEndOfStream.Encode(&c.buf)
		return false, nil
	case err != nil:
		c.exception(err)
		return false, nil
	}
	var zones map[int]string
	if c.rev >= zonesRevision {
		zones = zonedColumns(c.engine, text, res.Data)
	}
	r := proto.NewReader(bytes.NewReader(res.Data))
	var rows, blocks uint64
	var block []byte
	first := true
	for {
		var h blockHeader
		block, h, err = convertZoned(r, 0, c.rev, block[:0], len(res.Data)+1<<20, zones)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.exception(fmt.Errorf("convert result block: %w", err))
			return false, nil
		}
		if first {
			first = false
			names, types := blockColumns(block, c.rev)
			if err := c.sendData(st, headerBlock(c.rev, names, types)); err != nil {
				return false, err
			}
		}
		rows += uint64(h.rows)
		blocks++
		if err := c.sendData(st, block); err != nil {
			return false, err
		}
	}
	if first {
		// An empty result still tells its columns, as a server's header
		// block does.
		if names, types, ok := c.emptyResultColumns(text); ok {
			if err := c.sendData(st, headerBlock(c.rev, names, types)); err != nil {
				return false, err
			}
		}
	}
	proto.Profile{Rows: rows, Blocks: blocks, Bytes: uint64(len(res.Data))}.EncodeAware(&c.buf, c.rev)
	proto.ServerCodeProgress.Encode(&c.buf)
	proto.Progress{Rows: res.RowsRead, Bytes: res.BytesRead, ElapsedNs: uint64(res.Elapsed.Nanoseconds())}.EncodeAware(&c.buf, c.rev)
	proto.ServerCodeEndOfStream.Encode(&c.buf)
	return true, nil
}

// emptyResultColumns returns the columns of a statement whose result had no
// block: a query's from DESCRIBE, without running it again; a SHOW,
// EXISTS, DESCRIBE or EXPLAIN's by running it again in
// RowBinaryWithNamesAndTypes, whose header the engine writes also for no
// rows. Statements without a result have none.
func (c *nativeConn) emptyResultColumns(text statementText) (names, types []string, ok bool) {
	switch text.keyword() {
	case "SELECT", "WITH":
		names, types, err := describeQuery(c.engine, text.sql)
		return names, types, err == nil && len(names) > 0
	case "SHOW", "EXISTS", "DESCRIBE", "DESC", "EXPLAIN":
		res, err := c.engine.Query(stripFormat(text.sql), "RowBinaryWithNamesAndTypes")
		if err != nil {
			return nil, nil, false
		}
		names, types, err := rowBinaryHeader(res.Data)
		return names, types, err == nil && len(names) > 0
	}
	return nil, nil, false
}

// rowBinaryHeader reads the column names and types that start a
// RowBinaryWithNamesAndTypes answer.
func rowBinaryHeader(data []byte) (names, types []string, err error) {
	r := proto.NewReader(bytes.NewReader(data))
	n, err := r.UVarInt()
	if err != nil || n > 1<<16 {
		return nil, nil, fmt.Errorf("RowBinaryWithNamesAndTypes header: %d columns: %w", n, err)
	}
	names, types = make([]string, n), make([]string, n)
	for _, dst := range []([]string){names, types} {
		for i := range dst {
			if dst[i], err = r.Str(); err != nil {
				return nil, nil, fmt.Errorf("RowBinaryWithNamesAndTypes header: %w", err)
			}
		}
	}
	return names, types, nil
}

// blockColumns reads the names and types of a block converted for rev.
func blockColumns(block []byte, rev int) (names, types []string) {
	r := proto.NewReader(bytes.NewReader(block))
	if proto.FeatureBlockInfo.In(rev) {
		var info proto.BlockInfo
		_ = info.Decode(r)
	}
	cols, _ := r.UVarInt()
	rows, _ := r.UVarInt()
	c := blockCopier{r: r, limit: len(block)}
	for range cols {
		name, _ := r.Str()
		typ, _ := r.Str()
		if proto.FeatureCustomSerialization.In(rev) {
			_, _ = r.Bool()
		}
		names, types = append(names, name), append(types, typ)
		if rows > 0 {
			c.out = c.out[:0]
			if c.copyPrefix(typ) != nil || c.copyData(typ, rows) != nil {
				break
			}
		}
	}
	return names, types
}

// sendData sends a Data packet with block, compressed if the query asked.
func (c *nativeConn) sendData(st *queryState, block []byte) error {
	proto.ServerCodeData.Encode(&c.buf)
	c.buf.PutString("") // table name
	if !st.compressed {
		c.buf.PutRaw(block)
		return c.flush()
	}
	w := c.compressor(st.method)
	for len(block) > 0 {
		n := min(len(block), maxFrame)
		if err := w.Compress(block[:n]); err != nil {
			return fmt.Errorf("compress block: %w", err)
		}
		c.buf.PutRaw(w.Data)
		block = block[n:]
	}
	return c.flush()
}

func (c *nativeConn) compressor(m compress.Method) *compress.Writer {
	if c.compressors == nil {
		c.compressors = map[compress.Method]*compress.Writer{}
	}
	w, ok := c.compressors[m]
	if !ok {
		w = compress.NewWriter(compress.LevelZero, m)
		c.compressors[m] = w
	}
	return w
}

// describeTable returns the insertable columns of table: name, type and
// default kind.
func (c *nativeConn) describeTable(table string) ([][3]string, error) {
	res, err := c.engine.Query("DESCRIBE TABLE "+table, "TabSeparated")
	if err != nil {
		return nil, err
	}
	var cols [][3]string
	for _, line := range strings.Split(strings.TrimRight(string(res.Data), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue
		}
		cols = append(cols, [3]string{unescapeTSV(f[0]), unescapeTSV(f[1]), f[2]})
	}
	return cols, nil
}

func unescapeTSV(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\\`, `\`, `\'`, `'`).Replace(s)
}

// insert answers an INSERT whose rows the client sends as Data blocks: the
// table's columns first, then the blocks, staged in a file the engine
// reads in one INSERT.
func (c *nativeConn) insert(st *queryState, ins *dataInsert) error {
	table, list := splitTarget(ins.target)
	cols, err := c.describeTable(table)
	if err != nil {
		c.exception(err)
		return nil
	}
	names, types, err := insertColumns(table, cols, list)
	if err != nil {
		c.exception(err)
		return nil
	}
	if err := c.sendData(st, headerBlock(c.rev, names, types)); err != nil {
		return err
	}
	f, err := os.CreateTemp(c.s.opts.TempDir, "native-insert-*.data")
	if err != nil {
		return c.fatal(fmt.Errorf("stage insert data: %w", err))
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var rows, written uint64
	var block []byte
	for {
		var h blockHeader
		_, block, h, err = c.readClientBlock(st, block[:0])
		if errors.Is(err, errCancelled) {
			proto.ServerCodeEndOfStream.Encode(&c.buf)
			return nil
		}
		if err != nil {
			return err
		}
		end := h.columns == 0 && h.rows == 0
		if h.rows > 0 {
			if _, err := f.Write(block); err != nil {
				return c.fatal(fmt.Errorf("stage insert data: %w", err))
			}
			rows += uint64(h.rows)
			written += uint64(len(block))
		}
		// Clients of recent revisions wait for profile events after each
		// block they send, and after the last.
		if err := c.profileEvents(); err != nil {
			return err
		}
		if end {
			break
		}
	}
	if err := f.Close(); err != nil {
		c.exception(fmt.Errorf("stage insert data: %w", err))
		return nil
	}
	if rows > 0 {
		ins.format = "Native"
		_, cancelled, err := c.run(ins.fromInfile(f.Name()), "TabSeparated")
		switch {
		case errors.Is(err, errClientGone):
			return err
		case cancelled:
			proto.ServerCodeEndOfStream.Encode(&c.buf)
			return nil
		case err != nil:
			c.exception(err)
			return nil
		}
	}
	proto.ServerCodeProgress.Encode(&c.buf)
	proto.Progress{WroteRows: rows, WroteBytes: written, ElapsedNs: uint64(time.Since(st.started).Nanoseconds())}.EncodeAware(&c.buf, c.rev)
	proto.ServerCodeEndOfStream.Encode(&c.buf)
	return nil
}

// profileEventsRevision is the first revision whose clients expect profile
// events in answer to each block of an insert.
const profileEventsRevision = 54456

// profileEventsHeader is the empty block of profile events: the server's
// counters are the engine's, which it does not expose per query.
var profileEventsHeader = [2][]string{
	{"host_name", "current_time", "thread_id", "type", "name", "value"},
	{"String", "DateTime", "UInt64", "Int8", "String", "Int64"},
}

// profileEvents sends an empty ProfileEvents packet (never compressed) to
// clients that wait for one.
func (c *nativeConn) profileEvents() error {
	if c.rev < profileEventsRevision {
		return nil
	}
	proto.ServerProfileEvents.Encode(&c.buf)
	c.buf.PutString("")
	c.buf.PutRaw(headerBlock(c.rev, profileEventsHeader[0], profileEventsHeader[1]))
	return c.flush()
}

// insertColumns picks the columns an insert writes: the listed ones in their
// order, else every column that is not computed (MATERIALIZED, ALIAS,
// EPHEMERAL).
func insertColumns(table string, cols [][3]string, list []string) (names, types []string, err error) {
	if len(list) == 0 {
		for _, col := range cols {
			switch col[2] {
			case "MATERIALIZED", "ALIAS", "EPHEMERAL":
				continue
			}
			names, types = append(names, col[0]), append(types, col[1])
		}
		return names, types, nil
	}
	byName := make(map[string]string, len(cols))
	for _, col := range cols {
		byName[col[0]] = col[1]
	}
	for _, n := range list {
		t, ok := byName[n]
		if !ok {
			return nil, nil, &Exception{Code: codeNoSuchColumnInTable, Message: fmt.Sprintf("No such column %s in table %s. (NO_SUCH_COLUMN_IN_TABLE)", n, table)}
		}
		names, types = append(names, n), append(types, t)
	}
	return names, types, nil
}

// pushedInsert recognises `INSERT INTO target [SETTINGS ...] VALUES|FORMAT F`
// with nothing after it: the client sends the rows as blocks.
func pushedInsert(sql string) (*dataInsert, bool) {
	sql = strings.TrimRight(strings.TrimSpace(sql), ";")
	if m := insertFormatRe.FindStringSubmatch(sql); m != nil && strings.TrimSpace(sql[len(m[0]):]) == "" {
		return newDataInsert(m[1], m[2], nil), true
	}
	if m := insertValuesRe.FindStringSubmatch(sql); m != nil {
		return newDataInsert(m[1], "Values", nil), true
	}
	return nil, false
}

// splitTarget splits `[TABLE] db.t (a, b)` into the table and the column
// names (unquoted).
func splitTarget(target string) (table string, cols []string) {
	target = strings.TrimSpace(target)
	if len(target) > 6 && strings.EqualFold(target[:6], "TABLE ") {
		target = strings.TrimSpace(target[6:])
	}
	open := -1
	for i := 0; i < len(target); i++ {
		switch target[i] {
		case '`', '"', '\'':
			i = chsql.QuotedEnd(target, i, target[i]) - 1 // at the closing quote
		case '(':
			open = i
		}
		if open >= 0 {
			break
		}
	}
	if open < 0 {
		return target, nil
	}
	table = strings.TrimSpace(target[:open])
	_, args := splitType("x" + strings.TrimSpace(target[open:]))
	for _, a := range args {
		cols = append(cols, chsql.Unquote(a))
	}
	return table, cols
}

// stripFormat removes a trailing FORMAT clause: native clients get blocks.
func stripFormat(sql string) string {
	if loc := formatClauseRe.FindStringIndex(sql); loc != nil {
		return sql[:loc[0]]
	}
	return sql
}
