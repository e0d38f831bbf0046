// @clickhouse/client's row of the compatibility matrix (see ../doc.go).
'use strict'
const { createClient } = require('@clickhouse/client')

const env = process.env
const url = `http://${env.CH_HOST}:${env.CH_PORT}`
const TABLE = env.CH_TABLE
const ROWS = Number(env.CH_ROWS)
const COLUMNS = ['id', 'name', 'channel', 'region', 'units', 'price', 'discount', 'score', 'active',
  'day', 'changed_at', 'tags', 'ratings', 'items.sku', 'items.qty']
// Decimals travel as strings with their four places; 64-bit integers as strings.
const SETTINGS = { output_format_json_quote_decimals: 1, output_format_decimal_trailing_zeros: 1,
  output_format_json_quote_64bit_integers: 1 }

function dec4 (units) {
  const sign = units < 0 ? '-' : ''
  const s = String(Math.abs(units)).padStart(5, '0')
  return sign + s.slice(0, -4) + '.' + s.slice(-4)
}

// genRow is row i as the server returns it in JSONEachRow with SETTINGS.
function genRow (i) {
  const range = (n) => Array.from({ length: n }, (_, j) => j)
  const day = new Date(Date.UTC(1970, 0, 1) + ((i % 146000) - 25567) * 86400000).toISOString().slice(0, 10)
  const changed = new Date(1700000000000 + i * 1001).toISOString().replace('T', ' ').replace('Z', '')
  return {
    id: String(i),
    name: `p${i}` + (i % 7 === 0 ? '-é' : ''),
    channel: ['amazon', 'tiktok_shop', 'tiktok_ads'][i % 3],
    region: i % 4 === 0 ? null : ['eu', 'us', 'jp'][i % 3],
    units: i % 5 === 0 ? null : String(i * 3 - 150000),
    price: dec4((i * 7919) % 100000000 - 50000000),
    discount: i % 6 === 0 ? null : dec4(i % 10000),
    score: i % 9 === 0 ? null : i * 0.125,
    active: i % 3 === 0 ? null : i % 2 === 0,
    day,
    changed_at: changed,
    tags: range(i % 4).map((j) => `t${i + j}`),
    ratings: range(i % 3).map((j) => (j === 1 ? null : j * 0.5)),
    'items.sku': range(i % 3).map((j) => `s${i}-${j}`),
    'items.qty': range(i % 3).map((j) => String((i + j) % 1000))
  }
}

function client (compress, extra = {}) {
  return createClient({
    url,
    username: env.CH_USER,
    password: extra.password ?? env.CH_PASSWORD,
    compression: { request: compress, response: compress },
    session_id: extra.session_id,
    clickhouse_settings: SETTINGS
  })
}

async function report (check, fn) {
  try {
    await fn()
    console.log(`CHECK ${check} ok`)
    return true
  } catch (e) {
    console.log(`CHECK ${check} fail ${String(e && e.stack ? e.message : e).slice(0, 500).replace(/\n/g, ' ')}`)
    return false
  }
}

async function main () {
  const on = client(true)
  const off = client(false)
  const ok = await report('connect', async () => {
    for (const c of [on, off]) {
      const r = await c.ping()
      if (!r.success) throw r.error
    }
  })
  if (!ok) return
  await report('ddl', () => on.command({ query: env.CH_DDL }))

  const half = Math.floor(ROWS / 2)
  const errors = {}
  const insert = async (name, c, from, to) => {
    const values = []
    for (let i = from; i < to; i++) values.push(genRow(i))
    try {
      await c.insert({ table: TABLE, values, format: 'JSONEachRow', columns: COLUMNS })
    } catch (e) {
      errors[name] = e
    }
  }
  await report('insert', async () => {
    await insert('on', on, 0, half)
    await insert('off', off, half, ROWS)
    if (Object.keys(errors).length) throw new Error(`inserts failed: ${Object.values(errors).map(String)}`)
  })
  const readBack = async (c, name) => {
    if (errors[name]) throw errors[name]
    const rs = await c.query({ query: `SELECT ${COLUMNS.map((c) => '`' + c + '`').join(', ')} FROM ${TABLE} ORDER BY id`, format: 'JSONEachRow' })
    const rows = await rs.json()
    if (rows.length !== ROWS) throw new Error(`read ${rows.length} rows, want ${ROWS}`)
    rows.forEach((got, i) => {
      const want = genRow(i)
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`row ${i} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
    })
  }
  await report('readback', () => readBack(on, 'on'))
  await report('compression_on', () => readBack(on, 'on'))
  await report('compression_off', () => readBack(off, 'off'))

  await report('params', async () => {
    const rs = await on.query({ query: `SELECT name FROM ${TABLE} WHERE id = {id:UInt64}`, query_params: { id: 7 }, format: 'JSONEachRow' })
    const got = await rs.json()
    if (JSON.stringify(got) !== JSON.stringify([{ name: 'p7-é' }])) throw new Error(`parameterised query returned ${JSON.stringify(got)}`)
  })
  await report('session', async () => {
    const s = client(false, { session_id: `compat-js-${Date.now()}` })
    await s.command({ query: 'SET max_threads = 3' })
    const rs = await s.query({ query: "SELECT getSetting('max_threads') AS v", format: 'JSONEachRow' })
    const got = await rs.json()
    if (String(got[0].v) !== '3') throw new Error(`max_threads in the session = ${JSON.stringify(got)}`)
    await s.close()
  })
  await report('error', async () => {
    try {
      await on.query({ query: 'SELECT * FROM no_such_table', format: 'JSONEachRow' })
    } catch (e) {
      if (e.code !== '60' || e.type !== 'UNKNOWN_TABLE') throw new Error(`error code ${e.code} type ${e.type}: ${e.message}`)
      return
    }
    throw new Error('a query of a missing table succeeded')
  })
  if (env.CH_WRONG_PASSWORD_CHECK === '1') {
    await report('auth_rejected', async () => {
      const bad = client(false, { password: env.CH_PASSWORD + 'x' })
      try {
        await bad.command({ query: 'SELECT 1' })
      } catch (e) {
        if (e.code !== '516') throw new Error(`wrong password refused with code ${e.code}: ${e.message}`)
        return
      } finally {
        await bad.close()
      }
      throw new Error('a wrong password was accepted')
    })
  }
  await on.close()
  await off.close()
}

main().catch((e) => { console.error(e); process.exit(1) })
