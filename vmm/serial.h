/*
 * serial: a 16550A UART on the COM1 ports (0x3f8-0x3ff, IRQ 4), output
 * only: the guest kernel's log goes to out_fd, whole lines at a time.
 * Reads see an idle UART with an empty receiver.
 */
#ifndef CAPSEM_VMM_SERIAL_H
#define CAPSEM_VMM_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_PORT_BASE	0x3f8
#define SERIAL_PORT_COUNT	8
#define SERIAL_IRQ		4
#define SERIAL_LINE_MAX		512

struct serial {
	pthread_mutex_t	 mu;
	int		 out_fd;	/* -1: discard */
	uint8_t		 ier, lcr, mcr, scr, dll, dlm, fcr;
	bool		 thri_pending;	/* transmitter-empty interrupt */
	int		 irq_level;
	void		(*set_irq)(void *arg, unsigned irq, int level);
	void		*irq_arg;
	/* the guest kernel said it powered off or halted (no ACPI here) */
	void		(*on_poweroff)(void *arg);
	char		 line[SERIAL_LINE_MAX];
	size_t		 linelen;
	char		 last_line[160];	/* last complete line, for reasons */
	char		 panic_line[160];	/* last line naming a kernel panic */
	uint64_t	 bytes;
};

void	serial_init(struct serial *, int out_fd,
	    void (*set_irq)(void *, unsigned, int), void *irq_arg);
/* One byte-wide access at port offset 0-7 (called from vCPU threads). */
void	serial_io(struct serial *, unsigned offset, bool is_write, uint8_t *data);
void	serial_flush(struct serial *);
/* Copy the last complete (or pending) line, for an exit reason. */
void	serial_last_line(struct serial *, char *buf, size_t len);
/* The panic line if one was seen, else the last line. */
void	serial_panic_line(struct serial *, char *buf, size_t len);

#endif
