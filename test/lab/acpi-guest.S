# A 512-byte boot sector for the lab's KVM guests (machine 'pc': i440FX + PIIX4) that behaves as
# an OS does towards the two restart paths OMS offers: it announces each boot on COM1, and when
# the ACPI power button is pressed (virsh shutdown/reboot in ACPI mode) it powers the machine off
# through ACPI S5, as an OS does. A guest without such an OS ignores the button.
#
# Built into acpi-guest.ts (compared with this source by acpiGuestSourceMatches there):
#   as --32 -o g.o acpi-guest.S && ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o g.img g.o
	.code16
	.globl _start
_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %ss
	movw $0x7c00, %sp
	movw $booted, %si
	call print
	# PM I/O base: PIIX4 function 00:01.3, config register 0x40 (SeaBIOS set it up).
	movl $0x80000b40, %eax
	movw $0xcf8, %dx
	outl %eax, %dx
	movw $0xcfc, %dx
	inl %dx, %eax
	andw $0xffc0, %ax
	movw %ax, %bx
	# PM1_EN (base+2): enable the power button event, so QEMU latches it in PM1_STS.
	leaw 2(%bx), %dx
	inw %dx, %ax
	orw $0x0100, %ax
	outw %ax, %dx
	sti
wait:
	# Idle until the timer tick (18 Hz), then look at PM1_STS (base) bit 8, PWRBTN_STS.
	hlt
	movw %bx, %dx
	inw %dx, %ax
	testw $0x0100, %ax
	jz wait
	cli
	movw $button, %si
	call print
	# PM1_CNT (base+4): SLP_TYP 0 (S5 on PIIX4) with SLP_EN: soft power off.
	leaw 4(%bx), %dx
	inw %dx, %ax
	andw $0xc3ff, %ax
	orw $0x2000, %ax
	outw %ax, %dx
halt:
	hlt
	jmp halt

# Prints the NUL-terminated string at %si on COM1, waiting for the transmitter each time.
print:
	movw $0x3fd, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	lodsb
	testb %al, %al
	jz 2f
	movw $0x3f8, %dx
	outb %al, %dx
	jmp print
2:	ret

booted:	.asciz "\r\nlabt-acpi-guest: booted\r\n"
button:	.asciz "labt-acpi-guest: power button, powering off\r\n"

	.org 510
	.word 0xaa55
