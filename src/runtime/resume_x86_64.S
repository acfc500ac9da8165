/*
 * resume_x86_64.S - the public entry points of calls that park, x86-64.
 *
 * Why: the processor predicts each `ret` from its return stack buffer,
 * which the `call`s of the running thread filled. A goroutine that parked
 * resumes after other goroutines ran on this thread, so the buffer holds
 * their return addresses, not its own. Inside the runtime that does no
 * harm (every goroutine parks from the same few call sites), but the
 * return from the blocking call into user code goes to a call site of
 * the user's, and the one predicted is the call site of whichever
 * goroutine parked last: in a ping-pong between two goroutines, every
 * such return is mispredicted (15-20 cycles, a quarter of a channel
 * round trip). An indirect jump is predicted from the branch history
 * instead, which tells the two goroutines apart.
 *
 * So each entry point below calls its C body, NAME__body (declared with
 * GOC__BLOCKING in runtime_internal.h), which returns the call's result
 * in rax and in rdx whether it parked. If it did not, the stub returns
 * as usual; if it did, it pops its return address and jumps to it,
 * leaving the stale entry in the buffer (a circular buffer: it is
 * overwritten in time). The jump is the same return either way, so the
 * flag only chooses how the return is predicted.
 *
 * Stack: at entry rsp % 16 == 8; the stub moves rsp by 8 before calling
 * so that its body sees the same alignment. The stub saves nothing, and
 * the result registers pass through unchanged (rax: any integer or
 * pointer result; the body is never a float function). Shadow stacks
 * (CET) are not supported by the runtime anyway: its context switch
 * returns into another stack, and these files carry no CET property, so
 * the linker leaves the program unmarked.
 */
#ifndef GOC_NO_RESUME_STUBS
#include "chan/chan_layout.h"

/* The entry: call the body, then return by ret or, if it parked, by
 * jump. Ends the function (the .cfi_endproc and .size). */
    .macro GOC_RESUME_CALL name
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call \name\()__body
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    testq %rdx, %rdx
    jnz 9f
    ret
9:  popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rcx
    jmp *%rcx
    .cfi_endproc
    .size \name, .-\name
    .endm

    .macro GOC_ENTRY_BEGIN name
    .text
    .globl \name
    .type \name, @function
    .p2align 4
\name:
    .cfi_startproc
    .endm

/* A call that often parks: always through the body's call. */
    .macro GOC_BLOCKING_ENTRY name
    GOC_ENTRY_BEGIN \name
    GOC_RESUME_CALL \name
    .endm

/* goc_chan_send/recv (first argument c): the stub costs a call, a few
 * ns, that is won back only by a park. On a buffered channel most calls
 * do not park, so they go straight to the body (a tail jump: its own ret
 * returns to the user); on an unbuffered or NULL one, through the call. */
    .macro GOC_CHAN_ENTRY name
    GOC_ENTRY_BEGIN \name
    testq %rdi, %rdi
    jz 8f
    cmpq $0, GOC__CHAN_DATAQSIZ_OFFSET(%rdi)
    jne \name\()__body
8:
    GOC_RESUME_CALL \name
    .endm


    GOC_CHAN_ENTRY goc_chan_send
    GOC_CHAN_ENTRY goc_chan_recv
    GOC_BLOCKING_ENTRY goc__select_blocking
    .hidden goc__select_blocking
    GOC_BLOCKING_ENTRY goc_yield
#endif

    .section .note.GNU-stack,"",@progbits
