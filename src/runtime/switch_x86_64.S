/*
 * switch_x86_64.S - goroutine context switch, x86-64 System V.
 *
 * goc_m *goc__ctx_switch(goc__ctx *from, goc__ctx *to, goc_m *m)
 *   Saves the callee-saved state of the caller on its stack, stores the
 *   stack pointer in from->sp, loads to->sp and restores the state saved
 *   there, returning m into whoever saved `to`. Saved: rbx, rbp, r12-r15,
 *   the MXCSR (SSE control/status) and the x87 control word; everything
 *   else is caller-saved by the ABI. Frame (growing down from the return
 *   address): rbp rbx r12 r13 r14 r15 [mxcsr:4 | x87cw:2 | pad:2].
 *   Invariant: at the call rsp % 16 == 8, so after 6 pushes and 8 bytes
 *   the saved sp is 16-byte aligned; a fresh frame (goc__ctx_init in
 *   stack.c) is built to the same layout.
 *
 * goc__ctx_entry: where a fresh goroutine first "returns" to. r12 holds
 *   the argument, rbx the function, rax the m passed by the switch (the
 *   function's second argument); it never returns. The CFI marks the
 *   outermost frame so that unwinders (backtrace) stop here.
 */
    .text
    .globl goc__ctx_switch
    .hidden goc__ctx_switch
    .type goc__ctx_switch, @function
    .p2align 4
goc__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movl (%rsp), %eax
    movzwl 4(%rsp), %ecx
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    /* Loading the control registers costs tens of cycles; nearly every
     * goroutine runs with the same state, so load only what differs. */
    cmpl (%rsp), %eax
    je 1f
    ldmxcsr (%rsp)
1:  cmpw 4(%rsp), %cx
    je 2f
    fldcw 4(%rsp)
2:  addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movq %rdx, %rax
    ret
    .cfi_endproc
    .size goc__ctx_switch, .-goc__ctx_switch

    .globl goc__ctx_entry
    .hidden goc__ctx_entry
    .type goc__ctx_entry, @function
    .p2align 4
goc__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip
    xorl %ebp, %ebp
    movq %r12, %rdi
    movq %rax, %rsi
    andq $-16, %rsp
    callq *%rbx
    ud2
    .cfi_endproc
    .size goc__ctx_entry, .-goc__ctx_entry

    .section .note.GNU-stack,"",@progbits
