/*
 * chan_layout.h - the offsets of struct goc_chan that assembly reads
 * (runtime/resume_x86_64.S). Macros only, so that .S files may include
 * it; chan_internal.h asserts each against the struct.
 */
#ifndef GOC_CHAN_LAYOUT_H
#define GOC_CHAN_LAYOUT_H

/* size_t dataqsiz: the capacity, immutable after goc_chan_make. */
#define GOC__CHAN_DATAQSIZ_OFFSET 32

#endif
