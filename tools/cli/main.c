/*
 * main.c - `temper <command> [options]`: finds the command in the table and
 * runs it. Exit codes: 0 success, 1 runtime error (bad model file, prompt too
 * long...), 2 usage error (unknown option, bad number...).
 *
 * A new command is one line in the table below plus a cmd_<name>.c file.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_serve(int argc, char **argv); /* tools/server/serve.c */

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;
} cli_command;

static const cli_command commands[] = {
    {"info", cmd_info, "model facts: architecture, parameters, layers, context window"},
    {"probs", cmd_probs, "next-token probability table for a prompt"},
    {"generate", cmd_generate, "continue a prompt: greedy, sampling, beams, power sampling"},
    {"tokenize", cmd_tokenize, "text to tokens, with ids and byte offsets"},
    {"detokenize", cmd_detokenize, "token ids to text"},
    {"softmax", cmd_softmax, "softmax with temperature of a list of logits"},
    {"score", cmd_score, "log-likelihood, power and temperature scores of texts"},
    {"perplexity", cmd_perplexity, "sliding-window perplexity of a text"},
    {"attention", cmd_attention, "attention heatmaps per layer and head"},
    {"hidden", cmd_hidden, "hidden states per layer, statistics and PCA"},
    {"trace", cmd_trace, "text -> tokens -> layers -> logits -> softmax -> next token"},
    {"serve", cmd_serve, "HTTP server: OpenAI's and llama.cpp's APIs, many users at once"},
    {"pull", cmd_pull, "download a model from the Hugging Face Hub into the cache"},
    {"list", cmd_list, "models in the Hugging Face cache"},
    {"rm", cmd_rm, "remove a model from the Hugging Face cache"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: temper <command> [options]\n\ncommands:\n");
    for (size_t k = 0; k < N_COMMANDS; k++)
        fprintf(f, "  %-12s %s\n", commands[k].name, commands[k].summary);
    fprintf(f, "\n'temper <command> --help' shows the options of a command.\n"
               "'temper --version' prints the version.\n"
               "Without -m, the model is $TEMPER_MODEL, else gpt2 if the Hugging Face cache\n"
               "has it, else the bundled stories260K.\n"
               "example: temper generate --n-probs 3 \"Lily went to the\"\n");
}

static const cli_command *find_command(const char *name) {
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (strcmp(commands[k].name, name) == 0) return &commands[k];
    return NULL;
}

/* "unknown command": with the closest command name when there is one. */
static int unknown_command(const char *name) {
    const char *names[N_COMMANDS];
    for (size_t k = 0; k < N_COMMANDS; k++) names[k] = commands[k].name;
    const char *guess = cli_closest(name, names, (int)N_COMMANDS);
    if (guess)
        cli_error("unknown command \"%s\": did you mean '%s'? (run 'temper --help' for the "
                  "list)", name, guess);
    else
        cli_error("unknown command \"%s\": run 'temper --help' for the list", name);
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("temper %s\n", temper_version());
        return 0;
    }
    if (strcmp(name, "help") == 0) { /* temper help [command] */
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const cli_command *cmd = find_command(argv[2]);
        if (!cmd) return unknown_command(argv[2]);
        cli_current_run = cmd->run;
        char *help_argv[] = {argv[2], "--help", NULL};
        return cmd->run(2, help_argv);
    }
    const cli_command *cmd = find_command(name);
    if (!cmd) return unknown_command(name);
    cli_current_run = cmd->run;
    int rc = cmd->run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to standard output");
        if (rc == 0) rc = 1;
    }
    return rc;
}
