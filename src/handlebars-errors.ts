/**
 * Handlebars' own error texts, said for a user: a strict-mode miss names its
 * context object ("nope" not defined in [object Object]), a field of a
 * string variable fails with a JavaScript `in` error, a parse error is three
 * lines with a caret. Used for the thing-name template and the firmware
 * templates.
 */
export function handlebarsErrorText(e: unknown): string {
  const message = (e as Error)?.message ?? String(e);
  const missing = /"([^"]+)" not defined in/.exec(message);
  if (missing) return `{{${missing[1]}}} is not one of its variables`;
  const field = /Cannot use 'in' operator to search for '([^']+)'/.exec(message);
  if (field) return `.${field[1]}: the variables are plain text, with no fields`;
  const parse = /^Parse error on line (\d+):[\s\S]*\n(Expecting [^\n]*)$/.exec(message);
  if (parse) return `it does not parse (line ${parse[1]}: ${parse[2]})`;
  return message.replace(/ - \d+:\d+$/, "");
}
