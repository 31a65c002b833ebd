/**
 * The names of the output formats (agent/report/formats.ts holds their renderers, one for each name
 * here, which the compiler checks). The CLI offers these names as `--format` choices without loading
 * a renderer: a command that prints no report (a scan) does not pay for the CSV, HTML and table
 * libraries at start-up (issue 10, start-up time).
 */

/** `report --format`. */
export const REPORT_FORMAT_NAMES = ['table', 'csv', 'json', 'html', 'cyclonedx', 'netbox-manufacturers', 'netbox-device-types', 'netbox', 'netbox-interfaces', 'netbox-ips'] as const;
export type ReportFormatName = (typeof REPORT_FORMAT_NAMES)[number];

/** `verify --format`. */
export const VERIFY_FORMAT_NAMES = ['table', 'json', 'html'] as const;
export type VerifyFormatName = (typeof VERIFY_FORMAT_NAMES)[number];

/** `estate --format`. */
export const ESTATE_FORMAT_NAMES = ['table', 'csv', 'json', 'html'] as const;
export type EstateFormatName = (typeof ESTATE_FORMAT_NAMES)[number];
