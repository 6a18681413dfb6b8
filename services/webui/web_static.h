/*
 * web_static.h - the one style sheet, compiled in (build/gen/web_static.c,
 * made by gen-static from postern.css).
 */
#ifndef POSTERN_WEB_STATIC_H
#define POSTERN_WEB_STATIC_H

extern const char web_css[];

#endif
