// The JDBC driver's row of the compatibility matrix (see ../doc.go): what
// DBeaver, Metabase, Tableau and most JVM tools run. Run with
// `java -cp 'lib/*' JdbcCheck.java`.
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Properties;

public class JdbcCheck {
    static final String HOST = System.getenv("CH_HOST"), PORT = System.getenv("CH_PORT");
    static final String USER = System.getenv("CH_USER"), PASSWORD = System.getenv("CH_PASSWORD");
    static final String TABLE = System.getenv("CH_TABLE");
    static final int ROWS = Integer.parseInt(System.getenv("CH_ROWS"));
    static final String COLUMNS = "id, name, channel, region, units, price, discount, score, active, day, changed_at, tags, ratings, `items.sku`, `items.qty`";
    static final DateTimeFormatter DT64 = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneOffset.UTC);

    interface Check { void run() throws Exception; }

    static boolean report(String name, Check c) {
        try {
            c.run();
            System.out.println("CHECK " + name + " ok");
            return true;
        } catch (Throwable e) {
            String msg = (e.getClass().getSimpleName() + ": " + e.getMessage()).replace('\n', ' ');
            System.out.println("CHECK " + name + " fail " + msg.substring(0, Math.min(500, msg.length())));
            return false;
        }
    }

    static Connection connect(boolean compress, String password, String sessionId) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", USER);
        p.setProperty("password", password);
        p.setProperty("compress", Boolean.toString(compress));   // compress=1: answers in ClickHouse blocks
        p.setProperty("decompress", Boolean.toString(compress)); // decompress=1: requests in ClickHouse blocks
        if (sessionId != null) p.setProperty("clickhouse_setting_session_id", sessionId);
        return DriverManager.getConnection("jdbc:clickhouse://" + HOST + ":" + PORT + "/default", p);
    }

    /** Row i, in the Java types the driver returns. */
    static List<Object> genRow(long i) {
        List<String> tags = new ArrayList<>(), skus = new ArrayList<>();
        List<Double> ratings = new ArrayList<>();
        List<Long> qty = new ArrayList<>();
        for (long j = 0; j < i % 4; j++) tags.add("t" + (i + j));
        for (long j = 0; j < i % 3; j++) {
            ratings.add(j == 1 ? null : j * 0.5);
            skus.add("s" + i + "-" + j);
            qty.add((i + j) % 1000);
        }
        return Arrays.asList(
            i,
            "p" + i + (i % 7 == 0 ? "-é" : ""),
            new String[] {"amazon", "tiktok_shop", "tiktok_ads"}[(int) (i % 3)],
            i % 4 == 0 ? null : new String[] {"eu", "us", "jp"}[(int) (i % 3)],
            i % 5 == 0 ? null : i * 3 - 150000,
            BigDecimal.valueOf(i * 7919 % 100000000 - 50000000, 4),
            i % 6 == 0 ? null : BigDecimal.valueOf(i % 10000, 4),
            i % 9 == 0 ? null : i * 0.125,
            i % 3 == 0 ? null : i % 2 == 0,
            LocalDate.ofEpochDay(i % 146000 - 25567),
            Instant.ofEpochMilli(1700000000000L + i * 1001),
            tags, ratings, skus, qty);
    }

    static void insert(Connection c, long from, long to) throws SQLException {
        String marks = String.join(", ", java.util.Collections.nCopies(15, "?"));
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (" + COLUMNS + ") VALUES (" + marks + ")")) {
            for (long i = from; i < to; i++) {
                List<Object> r = genRow(i);
                ps.setLong(1, (Long) r.get(0));
                ps.setString(2, (String) r.get(1));
                ps.setString(3, (String) r.get(2));
                ps.setObject(4, r.get(3));
                ps.setObject(5, r.get(4));
                ps.setBigDecimal(6, (BigDecimal) r.get(5));
                ps.setObject(7, r.get(6));
                ps.setObject(8, r.get(7));
                ps.setObject(9, r.get(8));
                ps.setObject(10, r.get(9));
                ps.setString(11, DT64.format((Instant) r.get(10)));
                ps.setArray(12, c.createArrayOf("String", ((List<?>) r.get(11)).toArray()));
                ps.setArray(13, c.createArrayOf("Nullable(Float64)", ((List<?>) r.get(12)).toArray()));
                ps.setArray(14, c.createArrayOf("String", ((List<?>) r.get(13)).toArray()));
                ps.setArray(15, c.createArrayOf("Int64", ((List<?>) r.get(14)).toArray()));
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            if (counts.length != to - from) throw new AssertionError("executeBatch returned " + counts.length + " counts for " + (to - from) + " rows");
        }
    }

    static List<Object> list(Array a) throws SQLException {
        Object arr = a.getArray();
        List<Object> out = new ArrayList<>();
        if (arr instanceof Object[]) {
            for (Object o : (Object[]) arr) out.add(o instanceof Number && !(o instanceof Double) ? ((Number) o).longValue() : o);
        } else if (arr instanceof long[]) {
            for (long v : (long[]) arr) out.add(v);
        } else if (arr instanceof double[]) {
            for (double v : (double[]) arr) out.add(v);
        } else {
            throw new AssertionError("array of " + arr.getClass());
        }
        return out;
    }

    static void readBack(Connection c) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT " + COLUMNS + " FROM " + TABLE + " ORDER BY id")) {
            long n = 0;
            while (rs.next()) {
                List<Object> got = new ArrayList<>();
                got.add(rs.getLong(1));
                got.add(rs.getString(2));
                got.add(rs.getString(3));
                got.add(rs.getString(4));
                long units = rs.getLong(5);
                got.add(rs.wasNull() ? null : units);
                got.add(rs.getBigDecimal(6).setScale(4));
                BigDecimal d = rs.getBigDecimal(7);
                got.add(d == null ? null : d.setScale(4));
                double score = rs.getDouble(8);
                got.add(rs.wasNull() ? null : score);
                boolean active = rs.getBoolean(9);
                got.add(rs.wasNull() ? null : active);
                got.add(rs.getObject(10, LocalDate.class));
                got.add(rs.getObject(11, ZonedDateTime.class).toInstant());
                got.add(list(rs.getArray(12)));
                got.add(list(rs.getArray(13)));
                got.add(list(rs.getArray(14)));
                got.add(list(rs.getArray(15)));
                List<Object> want = genRow(n);
                if (!Objects.equals(got.toString(), want.toString())) throw new AssertionError("row " + n + " = " + got + ", want " + want);
                n++;
            }
            if (n != ROWS) throw new AssertionError("read " + n + " rows, want " + ROWS);
        }
    }

    public static void main(String[] args) throws Exception {
        Connection on, off;
        try {
            on = connect(true, PASSWORD, null);
            off = connect(false, PASSWORD, null);
            try (Statement st = on.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
                rs.next();
            }
            report("connect", () -> {});
        } catch (Exception e) {
            report("connect", () -> { throw e; });
            return;
        }
        report("ddl", () -> { try (Statement st = on.createStatement()) { st.execute(System.getenv("CH_DDL")); } });
        long half = ROWS / 2;
        Exception[] errs = new Exception[2];
        report("insert", () -> {
            try { insert(on, 0, half); } catch (Exception e) { errs[0] = e; }
            try { insert(off, half, ROWS); } catch (Exception e) { errs[1] = e; }
            if (errs[0] != null) throw errs[0];
            if (errs[1] != null) throw errs[1];
        });
        report("readback", () -> readBack(on));
        report("compression_on", () -> { if (errs[0] != null) throw errs[0]; readBack(on); });
        report("compression_off", () -> { if (errs[1] != null) throw errs[1]; readBack(off); });
        report("params", () -> {
            try (PreparedStatement ps = on.prepareStatement("SELECT name FROM " + TABLE + " WHERE id = ?")) {
                ps.setLong(1, 7);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next() || !"p7-é".equals(rs.getString(1))) throw new AssertionError("parameterised query did not return p7-é");
                }
            }
        });
        report("session", () -> {
            try (Connection s = connect(false, PASSWORD, "compat-jdbc-" + System.nanoTime()); Statement st = s.createStatement()) {
                st.execute("SET max_threads = 3");
                try (ResultSet rs = st.executeQuery("SELECT getSetting('max_threads')::String")) {
                    if (!rs.next() || !"3".equals(rs.getString(1))) throw new AssertionError("max_threads in the session is not 3");
                }
            }
        });
        report("empty_result", () -> {
            // What DBeaver shows for a query without rows: its columns.
            try (Statement st = on.createStatement();
                 ResultSet rs = st.executeQuery("SELECT id, price, changed_at FROM " + TABLE + " WHERE id > 1000000000000")) {
                java.sql.ResultSetMetaData md = rs.getMetaData();
                StringBuilder got = new StringBuilder();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    got.append(md.getColumnName(i)).append(' ').append(md.getColumnTypeName(i)).append(';');
                }
                if (rs.next()) throw new AssertionError("the empty query returned a row");
                String want = "id UInt64;price Decimal(18, 4);changed_at DateTime64(3, 'UTC');";
                if (!want.equals(got.toString())) throw new AssertionError("columns of an empty result: " + got + ", want " + want);
            }
        });
        report("error", () -> {
            try (Statement st = on.createStatement()) {
                st.executeQuery("SELECT * FROM no_such_table");
            } catch (SQLException e) {
                if (e.getErrorCode() != 60) throw new AssertionError("error code " + e.getErrorCode() + ": " + e.getMessage());
                return;
            }
            throw new AssertionError("a query of a missing table succeeded");
        });
        if ("1".equals(System.getenv("CH_WRONG_PASSWORD_CHECK"))) {
            report("auth_rejected", () -> {
                try (Connection bad = connect(false, PASSWORD + "x", null); Statement st = bad.createStatement()) {
                    st.executeQuery("SELECT 1");
                } catch (SQLException e) {
                    if (e.getErrorCode() != 516 && !e.getMessage().contains("516")) throw new AssertionError("wrong password refused with code " + e.getErrorCode() + ": " + e.getMessage());
                    return;
                }
                throw new AssertionError("a wrong password was accepted");
            });
        }
        on.close();
        off.close();
    }
}
