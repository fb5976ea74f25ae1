/* runnable plugins: every provider on the search path, from descriptors. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "loader.h"

static void show(const rn_plugin *p, void *data)
{
    (void)data;
    const rn_plugin_descriptor *d = p->desc;
    printf("%-19s %-16s %-8s %s\n    %s\n", rn_kind_name(d->kind), d->type_name,
           d->version ? d->version : "?", p->path, d->summary ? d->summary : "");
}

static void bad(const char *path, const char *why, void *data)
{
    int *nbad = data;
    (*nbad)++;
    fprintf(stderr, "runnable: warning: skipped %s: %s\n", path, why);
}

int rn_cmd_plugins(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"plugin-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'P': rn_loader_set_extra_path(optarg); break;
        case 'h':
            puts("usage: runnable plugins [--plugin-path DIRS]\n\n"
                 "List every provider found on the plugin search path: kind, type,\n"
                 "version, file and summary, read from each plugin's descriptor.");
            return RN_EXIT_OK;
        case ':':
            return rn_cli_usage_error("plugins", "option '%s' needs a value", argv[optind - 1]);
        default: return rn_cli_usage_error("plugins", "unknown option '%s'", argv[optind - 1]);
        }
    }
    int nbad = 0;
    printf("%-19s %-16s %-8s %s\n", "KIND", "TYPE", "VERSION", "FILE");
    rn_plugin_list(show, bad, &nbad);
    return RN_EXIT_OK;
}
