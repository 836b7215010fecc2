/*
 * serial.c: 16550A UART, transmit side.  Enough for the Linux 8250 driver
 * (probe, FIFO detection, THRE interrupts) and its polled console.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "serial.h"

#define REG_DATA	0	/* THR/RBR, DLL with DLAB */
#define REG_IER		1	/* DLM with DLAB */
#define REG_IIR		2	/* FCR on write */
#define REG_LCR		3
#define REG_MCR		4
#define REG_LSR		5
#define REG_MSR		6
#define REG_SCR		7

#define LCR_DLAB	0x80
#define IER_THRI	0x02
#define IIR_NO_INT	0x01
#define IIR_THRI	0x02
#define IIR_FIFO	0xc0
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MCR_LOOP	0x10
#define MSR_DCD_DSR_CTS	0xb0

void
serial_init(struct serial *s, int out_fd, void (*set_irq)(void *, unsigned, int),
    void *irq_arg)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->out_fd = out_fd;
	s->set_irq = set_irq;
	s->irq_arg = irq_arg;
	s->mcr = 0x08;		/* OUT2 */
}

static void
write_all(int fd, const char *p, size_t len)
{
	while (len > 0 && fd != -1) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* a gone reader loses the log */
		p += n;
		len -= (size_t)n;
	}
}

static void
flush_locked(struct serial *s)
{
	write_all(s->out_fd, s->line, s->linelen);
	s->linelen = 0;
}

static void
put_byte(struct serial *s, uint8_t c)
{
	s->bytes++;
	if (s->linelen < sizeof(s->line))
		s->line[s->linelen++] = (char)c;
	if (c == '\n') {
		size_t n = s->linelen - 1;

		while (n > 0 && (s->line[n - 1] == '\r'))
			n--;
		if (n > 0) {
			if (n >= sizeof(s->last_line))
				n = sizeof(s->last_line) - 1;
			memcpy(s->last_line, s->line, n);
			s->last_line[n] = '\0';
			if (strstr(s->last_line, "Kernel panic") != NULL)
				memcpy(s->panic_line, s->last_line, n + 1);
			/*
			 * Without ACPI a guest cannot power off: the kernel
			 * says so and halts its CPUs for good.
			 */
			if ((strstr(s->last_line, "reboot: System halted") ||
			    strstr(s->last_line, "reboot: Power down")) &&
			    s->on_poweroff != NULL)
				s->on_poweroff(s->irq_arg);
		}
	}
	if (c == '\n' || s->linelen == sizeof(s->line))
		flush_locked(s);
}

static void
update_irq(struct serial *s)
{
	int level = (s->ier & IER_THRI) && s->thri_pending ? 1 : 0;

	if (level != s->irq_level && s->set_irq != NULL) {
		s->irq_level = level;
		s->set_irq(s->irq_arg, SERIAL_IRQ, level);
	}
}

void
serial_io(struct serial *s, unsigned offset, bool is_write, uint8_t *data)
{
	bool	 dlab;

	pthread_mutex_lock(&s->mu);
	dlab = (s->lcr & LCR_DLAB) != 0;
	if (is_write) {
		switch (offset) {
		case REG_DATA:
			if (dlab)
				s->dll = *data;
			else {
				if (!(s->mcr & MCR_LOOP))
					put_byte(s, *data);
				s->thri_pending = true;
			}
			break;
		case REG_IER:
			if (dlab)
				s->dlm = *data;
			else {
				/* enabling THRI with an empty THR interrupts */
				if (!(s->ier & IER_THRI) && (*data & IER_THRI))
					s->thri_pending = true;
				s->ier = *data & 0x0f;
			}
			break;
		case REG_IIR:
			s->fcr = *data;
			break;
		case REG_LCR:
			s->lcr = *data;
			break;
		case REG_MCR:
			s->mcr = *data & 0x1f;
			break;
		case REG_SCR:
			s->scr = *data;
			break;
		default:
			break;
		}
	} else {
		switch (offset) {
		case REG_DATA:
			*data = dlab ? s->dll : 0;
			break;
		case REG_IER:
			*data = dlab ? s->dlm : s->ier;
			break;
		case REG_IIR:
			if ((s->ier & IER_THRI) && s->thri_pending) {
				*data = IIR_THRI | ((s->fcr & 1) ? IIR_FIFO : 0);
				s->thri_pending = false;
			} else
				*data = IIR_NO_INT | ((s->fcr & 1) ? IIR_FIFO : 0);
			break;
		case REG_LCR:
			*data = s->lcr;
			break;
		case REG_MCR:
			*data = s->mcr;
			break;
		case REG_LSR:
			*data = LSR_THRE | LSR_TEMT;
			break;
		case REG_MSR:
			/* loopback: outputs read back as inputs */
			if (s->mcr & MCR_LOOP)
				*data = (uint8_t)(((s->mcr & 0x0c) << 4) |
				    ((s->mcr & 0x01) << 5) |
				    ((s->mcr & 0x02) << 3));
			else
				*data = MSR_DCD_DSR_CTS;
			break;
		case REG_SCR:
			*data = s->scr;
			break;
		default:
			*data = 0xff;
			break;
		}
	}
	update_irq(s);
	pthread_mutex_unlock(&s->mu);
}

void
serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->mu);
	flush_locked(s);
	pthread_mutex_unlock(&s->mu);
}

void
serial_last_line(struct serial *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->mu);
	snprintf(buf, len, "%s", s->last_line);
	pthread_mutex_unlock(&s->mu);
}

void
serial_panic_line(struct serial *s, char *buf, size_t len)
{
	pthread_mutex_lock(&s->mu);
	snprintf(buf, len, "%s", s->panic_line[0] ? s->panic_line :
	    s->last_line);
	pthread_mutex_unlock(&s->mu);
}
