/** Writes boards/schema.json from src/boards/schema.ts. Run: npx tsx scripts/gen-board-schema.ts */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BOARDS_DIR_DEFAULT } from "../src/boards/index.js";
import { boardJsonSchemaText } from "../src/boards/json-schema.js";

const file = join(BOARDS_DIR_DEFAULT, "schema.json");
writeFileSync(file, boardJsonSchemaText());
process.stderr.write(`wrote ${file}\n`);
