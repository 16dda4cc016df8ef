// Regenerates the example dataset: `node examples/products/make.mjs` (needs the dev dependency
// @duckdb/node-api). 4,000 products written by DuckDB as Parquet and JSONL, deterministic (no
// random(): values come from arithmetic on the row number), so a rerun rewrites the same rows.
// The collection they fit is collection.json (a collections/create request body).
import { DuckDBInstance } from '@duckdb/node-api';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ROWS = 4000;
const DIM = 8;

// frac(sin(x) * 43758.5453): the classic shader hash, deterministic on every platform.
const noise = (a, b) => `(abs(sin(${a} * 12.9898 + ${b} * 78.233) * 43758.5453) % 1.0)`;

const sql = `
CREATE TABLE products AS
WITH words AS (
  SELECT ['amber','brisk','calm','dusty','eager','faded','gentle','hollow','ivory','jolly','keen','lunar',
          'misty','noble','olive','plain','quiet','rustic','silver','tidy','urban','vivid','woven','young'] AS adj,
         ['lamp','kettle','chair','rug','mug','desk','vase','shelf','pillow','clock','basket','bowl',
          'stool','mirror','blanket','teapot','candle','frame','jar','tray'] AS noun,
         ['kitchen','living','bedroom','office','garden'] AS genre
), rows AS (
  SELECT i, ${noise('i', 1)} AS r1, ${noise('i', 2)} AS r2, ${noise('i', 3)} AS r3, ${noise('i', 4)} AS r4
  FROM range(1, ${ROWS} + 1) t(i)
)
SELECT
  i::BIGINT AS id,
  adj[1 + floor(r1 * 24)::INT] || ' ' || noun[1 + floor(r2 * 20)::INT] || ' no. ' || i AS title,
  genre[1 + (i % 5)::INT] AS category,
  (1990 + floor(r3 * 35))::INTEGER AS year,
  round(1 + r4 * 4, 1)::FLOAT AS rating,
  -- a category centroid plus noise: products of one category sit together for a similarity search
  [ round(CASE WHEN k = (i % 5) THEN 1.0 ELSE 0.0 END + ${noise('i', 'k + 10')} * 0.5, 4)::FLOAT
    FOR k IN range(0, ${DIM}) ]::FLOAT[${DIM}] AS vector
FROM rows, words
ORDER BY id;
COPY products TO '${join(here, 'products.parquet')}' (FORMAT parquet, COMPRESSION zstd);
-- JSON gets the same values as decimals (a float32 printed as a double would show 16 digits)
COPY (SELECT id, title, category, year, round(rating::DOUBLE, 1) AS rating,
             [round(v::DOUBLE, 4) FOR v IN vector] AS vector FROM products ORDER BY id)
  TO '${join(here, 'products.jsonl')}' (FORMAT json);
`;

const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
await c.run(sql);
const n = await c.runAndReadAll('SELECT count(*)::INT AS n FROM products');
console.log(`wrote ${n.getRows()[0][0]} rows to ${here}/products.parquet and products.jsonl`);
