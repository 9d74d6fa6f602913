# The exec trampoline: see exec-trampoline.h (what it does, and how its bytes are made from this).
    .intel_syntax noprefix
    .globl _start
    .text
_start:
    # Non-dumpable first: nothing in the container may open its fds (the report pipe) or
    # trace it through /proc (the execve below makes the program dumpable as usual).
    mov     eax, 157
    mov     edi, 4
    xor     esi, esi
    syscall
    mov     r12, rsp
    mov     rbx, [r12]
    cmp     rbx, 4
    jb      bad
    mov     eax, 157
    mov     edi, 15
    mov     rsi, [r12+8]
    syscall
    mov     rsi, [r12+16]
    call    parse
    mov     r13, rax
    mov     rsi, [r12+24]
    call    parse
    mov     r14, rax
    mov     eax, 72
    mov     rdi, r13
    mov     esi, 2
    mov     edx, 1
    syscall
    mov     rdi, [r12+32]
    lea     rsi, [r12+40]
    lea     rdx, [r12+rbx*8+16]
    mov     eax, 59
    syscall
    neg     eax
    sub     rsp, 16
    mov     [rsp], r14d
    mov     [rsp+4], eax
    mov     dword ptr [rsp+8], 23
    mov     dword ptr [rsp+12], 0
    mov     eax, 1
    mov     rdi, r13
    mov     rsi, rsp
    mov     edx, 16
    syscall
bad:
    mov     eax, 231
    mov     edi, 127
    syscall
    jmp     bad
parse:
    xor     eax, eax
1:
    movzx   ecx, byte ptr [rsi]
    test    ecx, ecx
    jz      2f
    sub     ecx, 48
    imul    rax, rax, 10
    add     rax, rcx
    inc     rsi
    jmp     1b
2:
    ret
