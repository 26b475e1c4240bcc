/** Build a TypeScript entry into one ES module; resolves to the absolute output path. */
export function buildNode(entry: string, outfile: string): Promise<string>;
