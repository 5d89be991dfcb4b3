/*
 * A graceful stop: while armed, SIGINT and SIGTERM only set a flag that a
 * long job (a queue's drain) reads between steps, so that it stops taking
 * work and finishes what is in flight. A second signal restores the
 * actions there were before and raises itself again: whoever asks twice
 * gets the hard stop they had.
 */
#ifndef PULSE_STOP_SIGNAL_H
#define PULSE_STOP_SIGNAL_H

/* Arms the handlers, saving the actions in place; the flag starts clear. */
void stop_signal_arm(void);

/* Restores the saved actions. */
void stop_signal_disarm(void);

/* The signal that asked to stop since arming, or 0. */
int stop_signal_received(void);

#endif
