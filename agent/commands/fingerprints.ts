/** `cctv-agent fingerprints verify|fields|match`: work with the knowledge base. */
import type { Command } from 'commander';
import { declaresNoPublicSource } from '../knowledge/citation.js';
import { loadKnowledge } from '../knowledge/index.js';
import { fingerprintsOption, printJson, printText, type KnowledgeFlags } from './options.js';

/** The verifier, the field list and the match explainer: loaded by these commands, not by every start-up. */
const fingerprintTools = (): Promise<typeof import('../fingerprint/index.js')> => import('../fingerprint/index.js');

async function verifyCommand(flags: KnowledgeFlags & { json?: boolean }): Promise<void> {
  const { citationsOf, verifyFingerprints } = await fingerprintTools();
  // Loading checks every file's schema and meaning (or throws); verifying runs every example.
  const knowledge = loadKnowledge(flags.fingerprints);
  const problems = verifyFingerprints(knowledge);
  // Entries that say no public source was found are not refused, but every run names how many.
  const unsourced = citationsOf(knowledge).filter((c) => declaresNoPublicSource(c.source));
  if (flags.json) printJson({ ok: problems.length === 0, problems, unsourced });
  else if (problems.length === 0) {
    printText(
      `fingerprints: every file, rule, example and citation verified${unsourced.length ? `; ${unsourced.length} entries say no public source was found (${unsourced.map((c) => `${c.file} ${c.entry}`).join(', ')})` : ''}\n`,
    );
  } else {
    const lines = problems.map((p) => `${p.file}${p.rule ? ` rule ${p.rule}` : ''}: ${p.message}`);
    printText(`${lines.join('\n')}\n${problems.length} problem(s) in the fingerprint data\n`);
  }
  process.exitCode = problems.length === 0 ? 0 : 1;
}

async function fieldsCommand(flags: KnowledgeFlags & { json?: boolean }): Promise<void> {
  const { defaultFingerprintDir, fieldsText, readFields } = await fingerprintTools();
  const fields = readFields(flags.fingerprints ?? defaultFingerprintDir());
  if (flags.json) printJson([...fields.values()]);
  else printText(fieldsText(fields));
}

async function matchCommand(field: string, value: string, flags: KnowledgeFlags & { json?: boolean }): Promise<void> {
  const { matchReport, matchText } = await fingerprintTools();
  const db = loadKnowledge(flags.fingerprints);
  const report = matchReport(db, field, value, db.macCarriers);
  if (flags.json) printJson(report);
  else printText(matchText(db, report));
}

export function registerFingerprints(program: Command): void {
  const fingerprints = program.command('fingerprints').description('work with the knowledge base in fingerprints/ (rules, vendors, OUI, CVEs, policies, ports, probes)');
  fingerprints
    .command('verify')
    .description('check every file of the knowledge base, every rule and every example (exit 1 on any problem, 2 for a file that cannot be read)')
    .option('--json', 'print the result as JSON')
    .addOption(fingerprintsOption())
    .action((flags: KnowledgeFlags & { json?: boolean }) => verifyCommand(flags));
  fingerprints
    .command('fields')
    .description('list the observation fields rules can match: name, meaning, example')
    .option('--json', 'print the fields as JSON')
    .addOption(fingerprintsOption())
    .action((flags: KnowledgeFlags & { json?: boolean }) => fieldsCommand(flags));
  fingerprints
    .command('match')
    .description('show which rules fire on VALUE of observation field FIELD, and why; FIELD "mac" (or a MAC field such as sadp.mac) shows the IEEE registrant and vendor a scan would give the MAC (exit 2 for an unknown field or a value that is not a MAC)')
    .argument('<field>', 'observation field, e.g. onvif.scope.name, or mac')
    .argument('<value>', 'the value as a device would report it')
    .option('--json', 'print { field, value, matches: [{ rule, supports, confidence, identity }] }')
    .addOption(fingerprintsOption())
    .action((field: string, value: string, flags: KnowledgeFlags & { json?: boolean }) => matchCommand(field, value, flags));

}
