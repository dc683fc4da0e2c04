/** `provision manifest merge --out PREFIX MANIFEST...`: several stations' manifests as one. */
import { type ManifestMergeReport, mergeManifests } from "../station/manifest-merge.js";

export interface ManifestMergeOptions {
  manifests: string[];
  out: string;
  json?: boolean;
}

export async function manifestMergeCommand(opts: ManifestMergeOptions): Promise<ManifestMergeReport> {
  const report = await mergeManifests(opts.manifests, opts.out);
  for (const input of report.inputs) {
    process.stderr.write(
      `${input.file}: ${input.rows} row(s)${input.tornLastLine ? " (a torn last line left out)" : ""}\n`,
    );
  }
  process.stderr.write(
    `merged into ${report.csvFile} and ${report.jsonlFile}: ${report.written} row(s) added, ${report.duplicates} already listed\n`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return report;
}
