/*
 * switch_aarch64.S - goroutine context switch, AArch64 (AAPCS64).
 *
 * goc_m *goc__ctx_switch(goc__ctx *from, goc__ctx *to, goc_m *m)
 *   Saves x19-x30, d8-d15 and FPCR in a 176-byte frame on the caller's
 *   stack, stores sp in from->sp, loads to->sp and restores. Frame layout
 *   (offsets from the saved sp): x19..x30 at 0..88, d8..d15 at 96..152,
 *   fpcr at 160. sp stays 16-byte aligned. Returns m into whoever saved
 *   `to`.
 *
 * goc__ctx_entry: a fresh goroutine starts here with x19 = function,
 *   x20 = argument (restored from its initial frame) and x0 = the m of
 *   the switch (passed on as the second argument); never returns.
 */
    .text
    .globl goc__ctx_switch
    .hidden goc__ctx_switch
    .type goc__ctx_switch, %function
    .p2align 4
goc__ctx_switch:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    ldr x9, [x1]
    mov sp, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    ldr x9, [sp, #160]
    msr fpcr, x9
    add sp, sp, #176
    mov x0, x2
    ret
    .size goc__ctx_switch, .-goc__ctx_switch

    .globl goc__ctx_entry
    .hidden goc__ctx_entry
    .type goc__ctx_entry, %function
    .p2align 4
goc__ctx_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov x29, #0
    mov x30, #0
    mov x1, x0
    mov x0, x20
    blr x19
    brk #0
    .cfi_endproc
    .size goc__ctx_entry, .-goc__ctx_entry

    .section .note.GNU-stack,"",@progbits
