/* tests/hil/uleds-watch.c: creates an LED class device through uleds and
 * prints every brightness the kernel sets on it, one line each:
 * "<CLOCK_MONOTONIC ms> <brightness>", until killed. setup.sh builds it
 * statically for each guest (/usr/bin/uleds-watch).
 *
 * Usage: uleds-watch NAME [MAX]   (creates /sys/class/leds/NAME)
 * uleds(4): one write of struct uleds_user_dev creates the LED; each read
 * returns the brightness as an int once it changed. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct uleds_user_dev {
	char name[64];
	int max_brightness;
};

int main(int argc, char **argv)
{
	struct uleds_user_dev dev;
	struct timespec ts;
	int fd, b;

	if (argc < 2 || strlen(argv[1]) >= sizeof(dev.name)) {
		fprintf(stderr, "usage: uleds-watch NAME [MAX]\n");
		return 2;
	}
	memset(&dev, 0, sizeof(dev));
	strcpy(dev.name, argv[1]);
	dev.max_brightness = argc > 2 ? atoi(argv[2]) : 255;
	fd = open("/dev/uleds", O_RDWR);
	if (fd < 0 || write(fd, &dev, sizeof(dev)) != sizeof(dev)) {
		perror("uleds-watch: /dev/uleds");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (read(fd, &b, sizeof(b)) == sizeof(b)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%lld %d\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, b);
	}
	return 0;
}
