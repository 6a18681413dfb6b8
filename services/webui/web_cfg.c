/*
 * web_cfg.c - where the web UI's configuration lives: main.c's table
 * fills it before init, everything else only reads it.
 */
#include "web_cfg.h"

struct web_config web_cfg;
