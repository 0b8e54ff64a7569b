/*
 * cli_json.c - the end of a --json document: the library writes the JSON
 * (temper_json, src/json); the CLI ends the document and reports a failed
 * write.
 */
#include "cli.h"

int cli_json_end(temper_json *j) {
    int rc = temper_json_finish(j);
    temper_json_free(j);
    return rc < 0 ? cli_lib_error("writing the JSON output", rc) : 0;
}
