-- The product key of every current channel product, from the raw catalog
-- and product tables by the rules of package identity: first the mapping
-- file (the table oracle_mapping, loaded by the test from the CSV the
-- transform reads; the most specific row wins: ACCOUNT:ID, then ID, then
-- product:PRODUCT_ID), which takes the product out of the other rules; then
-- a GTIN (normalised to GTIN-14, check digit valid) shared by at least two
-- unmapped products and claimed by no two products of one channel account;
-- then a seller SKU shared by at least two products neither mapped nor
-- linked by GTIN, without two products of one account and without
-- different GTINs; otherwise the channel-scoped key. The current product is
-- the latest version of its source record. Rows: channel, account, id,
-- product_key, match_rule.
WITH
-- GS1 numbers: spaces and hyphens dropped, 8, 12, 13 or 14 digits, not all
-- zeros, a valid mod-10 check digit; left-padded to 14 digits.
raw_ids AS (
    SELECT 'amazon' AS channel, marketplace_id AS account, asin AS id,
           arrayZip(`identifiers.identifier_type`, `identifiers.identifier`) AS ids, '' AS listed_sku, '' AS product_id
    FROM (SELECT * FROM amazon_catalog_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    WHERE op != 'delete'
    UNION ALL
    SELECT 'tiktok', shop_id, sku_id,
           arrayMap(x -> (JSONExtractString(x, 'identifier_type'), JSONExtractString(x, 'identifier')), JSONExtractArrayRaw(sku_ids)),
           trimBoth(ifNull(seller_sku, '')), product_id
    FROM (SELECT * FROM tiktok_products_changes ORDER BY _key, version DESC LIMIT 1 BY _key)
    ARRAY JOIN `skus.sku_id` AS sku_id, `skus.identifiers` AS sku_ids, `skus.seller_sku` AS seller_sku
    WHERE op != 'delete' AND status != 'DELETED'
),
-- The mapping file's rows, channel_id parsed; a product takes the key of
-- its most specific row.
mapping AS (
    SELECT DISTINCT trimBoth(product_key) AS product_key, lower(trimBoth(channel)) AS channel, trimBoth(channel_id) AS cid,
           startsWith(cid, 'product:') AS by_product,
           if(NOT by_product AND position(cid, ':') > 0, splitByChar(':', cid)[1], '') AS account,
           if(by_product, substring(cid, 9), splitByChar(':', cid)[-1]) AS id
    FROM oracle_mapping
),
mapped AS (
    SELECT r.channel AS channel, r.account AS account, r.id AS id,
           argMin(m.product_key, multiIf(m.by_product, 3, m.account = '', 2, 1)) AS mapped_key
    FROM raw_ids AS r JOIN mapping AS m ON m.channel = r.channel
    WHERE NOT m.by_product AND m.id = r.id AND m.account IN ('', r.account)
          OR m.by_product AND r.channel = 'tiktok' AND m.id = r.product_id
    GROUP BY r.channel, r.account, r.id
),
numbers AS (
    SELECT channel, account, id, listed_sku, ids,
        arrayMap(t -> replaceRegexpAll(t.2, '[ -]', ''),
                 arrayFilter(t -> upper(trimBoth(t.1)) IN ('GTIN', 'EAN', 'UPC', 'JAN', 'ISBN', 'GTIN8', 'GTIN12', 'GTIN13',
                                                          'GTIN14', 'EAN8', 'EAN13', 'UPCA', 'UPC-A', 'ISBN13'), ids)) AS digits
    FROM raw_ids
),
-- Seller SKUs Amazon shows outside the catalog, from every change that is
-- not a delete.
learned AS (
    SELECT marketplace_id AS account, asin AS id, groupUniqArray(sku) AS skus FROM (
        SELECT marketplace_id, ifNull(child_asin, '') AS asin, trimBoth(ifNull(sku, '')) AS sku
        FROM amazon_sales_traffic_changes WHERE op != 'delete'
        UNION ALL
        SELECT marketplace_id, asin, trimBoth(ifNull(seller_sku, '')) FROM amazon_order_items_changes WHERE op != 'delete'
    ) WHERE sku != '' AND asin != ''
    GROUP BY marketplace_id, asin
),
items AS (
    SELECT n.channel AS channel, n.account AS account, n.id AS id, ifNull(mp.mapped_key, '') AS mapped_key,
        arraySort(arrayDistinct(arrayMap(d -> leftPad(d, 14, '0'), arrayFilter(d ->
            length(d) IN (8, 12, 13, 14) AND match(d, '^[0-9]+$') AND NOT match(d, '^0+$')
            AND (10 - arraySum(arrayMap(i -> toUInt32(substring(reverse(substring(d, 1, length(d) - 1)), i + 1, 1)) * if(i % 2 = 0, 3, 1),
                                        range(length(d) - 1))) % 10) % 10 = toUInt32(substring(d, length(d), 1)),
            n.digits)))) AS gtins,
        -- An Amazon SKU identifier, else the one learnt SKU; several
        -- learnt SKUs are a conflict.
        multiIf(n.listed_sku != '', n.listed_sku,
                arrayFirst(t -> upper(trimBoth(t.1)) = 'SKU', n.ids).2 != '', trimBoth(arrayFirst(t -> upper(trimBoth(t.1)) = 'SKU', n.ids).2),
                length(l.skus) = 1, l.skus[1], '') AS sku,
        n.listed_sku = '' AND arrayFirst(t -> upper(trimBoth(t.1)) = 'SKU', n.ids).2 = '' AND length(l.skus) > 1 AS sku_conflict
    FROM numbers AS n LEFT JOIN learned AS l ON n.channel = 'amazon' AND l.account = n.account AND l.id = n.id
    LEFT JOIN mapped AS mp ON mp.channel = n.channel AND mp.account = n.account AND mp.id = n.id
),
-- GTIN and seller SKU groups are made of unmapped products only.
unmapped AS (SELECT * FROM items WHERE mapped_key = ''),
gtin_groups AS (
    SELECT gtins[1] AS gtin, count() AS members,
           max(accounts) > 1 AS conflict
    FROM (SELECT gtins, channel, account, uniqExact(id) AS accounts FROM unmapped WHERE length(gtins) = 1
          GROUP BY gtins, channel, account)
    GROUP BY gtin
),
gtin_sizes AS (
    SELECT gtins[1] AS gtin, count() AS n FROM unmapped WHERE length(gtins) = 1 GROUP BY gtin
),
by_gtin AS (
    SELECT i.*, if(i.mapped_key = '' AND length(i.gtins) = 1 AND NOT g.conflict AND s.n >= 2, concat('gtin:', i.gtins[1]), '') AS gtin_key
    FROM items AS i
    LEFT JOIN gtin_groups AS g ON g.gtin = i.gtins[1]
    LEFT JOIN gtin_sizes AS s ON s.gtin = i.gtins[1]
),
sku_candidates AS (
    SELECT * FROM by_gtin WHERE mapped_key = '' AND gtin_key = '' AND NOT sku_conflict AND sku != ''
),
sku_groups AS (
    SELECT sku, count() AS n,
           max(dups) > 1 OR length(arrayDistinct(arrayFlatten(groupArray(all_gtins)))) > 1 AS conflict
    FROM (SELECT sku, channel, account, uniqExact(id) AS dups, arrayDistinct(arrayFlatten(groupArray(gtins))) AS all_gtins
          FROM sku_candidates GROUP BY sku, channel, account)
    GROUP BY sku
),
sku_sizes AS (SELECT sku, count() AS n FROM sku_candidates GROUP BY sku)
SELECT b.channel AS channel, b.account AS account, b.id AS id,
       multiIf(b.mapped_key != '', b.mapped_key, b.gtin_key != '', b.gtin_key, c.sku != '' AND NOT g.conflict AND s.n >= 2, concat('sku:', b.sku),
               concat(b.channel, ':', b.account, ':', b.id)) AS product_key,
       multiIf(b.mapped_key != '', 'mapping_file', b.gtin_key != '', 'gtin', c.sku != '' AND NOT g.conflict AND s.n >= 2, 'seller_sku', 'unmatched') AS match_rule
FROM by_gtin AS b
LEFT JOIN (SELECT channel, account, id, sku FROM sku_candidates) AS c ON c.channel = b.channel AND c.account = b.account AND c.id = b.id
LEFT JOIN sku_groups AS g ON g.sku = b.sku
LEFT JOIN sku_sizes AS s ON s.sku = b.sku
