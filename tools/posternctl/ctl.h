/*
 * ctl.h - posternctl's subcommands, one file each (ctl_<name>.c).
 * Each takes the arguments after its own name (argv[0] is the name) and
 * returns the process exit status: 0 ok, 1 failure, 2 usage error.
 */
#ifndef POSTERN_CTL_H
#define POSTERN_CTL_H

int ctl_certs(int argc, char **argv);
int ctl_ping(int argc, char **argv);
int ctl_lookup(int argc, char **argv);
int ctl_key(int argc, char **argv);
int ctl_send(int argc, char **argv);
int ctl_pin(int argc, char **argv);

#endif
