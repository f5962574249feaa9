# A tiny "kernel" in the Linux x86 boot protocol, for the lab's install tree (lab.sh netinst-tree).
#
# This machine's KVM (kvm_pvm: nested, shadow paging) runs real-mode code (SeaBIOS, boot sectors)
# but does not get a real Linux kernel past its decompressor in any useful time, so a guest that
# must show, on its serial console, the command line and initrd a boot loader handed it is this
# real-mode program. QEMU's Linux loader treats it as any bzImage: it reads the header below,
# loads it at 0x10000, puts the command line at cmd_line_ptr and the initrd at ramdisk_image, and
# jumps to offset 0x200. It prints on COM1
#   OMS-LAB-KERNEL cmdline: <the command line>
#   OMS-LAB-KERNEL initrd: <ramdisk_size as 8 hex digits> bytes
# every second until a byte arrives on COM1 (or about 120 s pass), then resets the machine
# through the keyboard controller, as an installer reboots when it is done.
#
# Built by lab.sh: as --32 -o k.o netinst-kernel.S && ld -m elf_i386 -Ttext 0 --oformat binary -o vmlinuz k.o
	.code16
	.text
	.globl _start
_start:
	.org 0x1f1
	.byte 1                 # setup_sects: the setup part is 2 sectors (0x000-0x3ff)
	.word 0                 # root_flags
	.long 0                 # syssize
	.word 0                 # ram_size
	.word 0                 # vid_mode
	.word 0                 # root_dev
	.word 0xaa55            # boot_flag
	jmp main                # 0x200: the loader jumps here
	.ascii "HdrS"           # 0x202
	.word 0x0202            # 0x206: protocol 2.02 (cmd_line_ptr)
	.long 0                 # 0x208 realmode_swtch
	.word 0                 # 0x20c start_sys_seg
	.word 0                 # 0x20e kernel_version
	.byte 0                 # 0x210 type_of_loader
	.byte 1                 # 0x211 loadflags: LOADED_HIGH
	.word 0                 # 0x212 setup_move_size
	.long 0x100000          # 0x214 code32_start
	.long 0                 # 0x218 ramdisk_image (set by the loader)
	.long 0                 # 0x21c ramdisk_size (set by the loader)
	.long 0                 # 0x220 bootsect_kludge
	.word 0                 # 0x224 heap_end_ptr
	.byte 0, 0              # 0x226 ext_loader_ver, ext_loader_type
	.long 0                 # 0x228 cmd_line_ptr (set by the loader)
	.long 0                 # 0x22c initrd_addr_max: QEMU writes its own value here
	.org 0x260              # the rest of a newer header, which loaders may also write to
main:
	cli
	cld
	movw %cs, %ax           # CS = setup segment + 0x20; labels are offsets from the segment
	subw $0x20, %ax
	movw %ax, %ds
	movw %ax, %ss
	movw $0x9000, %sp
	sti
	movw $1200, %bp         # tenths of seconds left: about 120 s
again:
	movw $s_cmdline, %si
	call print
	movl 0x228, %eax        # cmd_line_ptr: below 1 MiB with LOADED_HIGH (QEMU: 0x20000)
	movl %eax, %ebx
	shrl $4, %ebx
	movw %bx, %es
	andw $0x0f, %ax
	movw %ax, %di
cmdline:
	movb %es:(%di), %al
	testb %al, %al
	jz cmdline_end
	call putc
	incw %di
	jmp cmdline
cmdline_end:
	movw $s_initrd, %si
	call print
	movl 0x21c, %edx        # ramdisk_size, 8 hex digits
	movw $8, %cx
hex:
	roll $4, %edx
	movb %dl, %al
	andb $0x0f, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe hex_digit
	addb $('a' - '0' - 10), %al
hex_digit:
	call putc
	loop hex
	movw $s_bytes, %si
	call print
	movw $18, %cx           # about one second of 18.2 Hz timer ticks
wait:
	hlt
	movw $0x3fd, %dx        # COM1 line status: data ready?
	inb %dx, %al
	testb $1, %al
	jnz done
	loop wait
	subw $10, %bp
	ja again
done:
	movw $s_done, %si
	call print
	cli
	movb $0xfe, %al         # keyboard controller: pulse the reset line
	outb %al, $0x64
halt:
	hlt
	jmp halt

print:                      # DS:SI, NUL-terminated
	lodsb
	testb %al, %al
	jz print_end
	call putc
	jmp print
print_end:
	ret

putc:                       # AL to COM1 once the transmitter is empty
	pushw %dx
	pushw %ax
	movw $0x3fd, %dx
putc_wait:
	inb %dx, %al
	testb $0x20, %al
	jz putc_wait
	popw %ax
	movw $0x3f8, %dx
	outb %al, %dx
	popw %dx
	ret

s_cmdline: .asciz "OMS-LAB-KERNEL cmdline: "
s_initrd: .asciz "\r\nOMS-LAB-KERNEL initrd: "
s_bytes: .asciz " bytes\r\n"
s_done: .asciz "OMS-LAB-KERNEL done, rebooting\r\n"
	.org 0x5ff              # a protected-mode part of one sector, which QEMU loads at 1 MiB
	.byte 0
