/*
 * nsbox-probe: run inside a container, it tells a test what the container sees. One static
 * binary with no library to bring into a root file system, after crun's tests/init.c.
 *
 *   nsbox-probe                      the report: one JSON object on stdout
 *                                    (its type: ProbeReport in test/helpers/probe-program.ts)
 *   nsbox-probe stat PATH...         [{path, exists, type, mode, size, device, entries, readable, errno}]
 *   nsbox-probe try ACTION [ARGS]    {action, ok, errno, ...}: may the container do this?
 *   nsbox-probe sleep SECONDS        for lifecycle tests
 *   nsbox-probe exit CODE
 *
 * Exits 0 when it ran (a denied `try` included), 2 on a usage error, 1 if stdout failed.
 * Built by scripts/build-probe.sh.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080 /* Linux 5.6 */
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1 /* linux/keyctl.h, not always installed */

extern char **environ;

/* ---- JSON on stdout ---------------------------------------------------------------------- */

static int depth;
static unsigned char had_item[16]; /* whether the array/object at each depth has an item yet */
static int after_key;              /* the next value belongs to the key just written */

static void sep(void) {
  if (after_key) {
    after_key = 0;
    return;
  }
  if (depth > 0) {
    if (had_item[depth]) putchar(',');
    had_item[depth] = 1;
  }
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c < 0xc2 || c > 0xf4 || len > n) return 0;
  if (c == 0xe0) lo = 0xa0;
  else if (c == 0xed) hi = 0x9f;
  else if (c == 0xf0) lo = 0x90;
  else if (c == 0xf4) hi = 0x8f;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

/* File names and environment strings are bytes, not text: valid UTF-8 passes through, any
 * other byte becomes the code point of the same value (\u00XX), so that JSON.parse never fails. */
static void j_raw(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    size_t len;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c == '\n') fputs("\\n", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c < 0x20) printf("\\u%04x", c);
    else if (c < 0x80) putchar(c);
    else if ((len = utf8_len(s + i, n - i)) > 0) {
      fwrite(s + i, 1, len, stdout);
      i += len - 1;
    } else
      printf("\\u%04x", c);
  }
  putchar('"');
}

static void j_begin(char c) { sep(); putchar(c); had_item[++depth] = 0; }
static void j_end(char c) { putchar(c); depth--; }
static void j_key(const char *k) { sep(); j_raw(k, strlen(k)); putchar(':'); after_key = 1; }
static void j_null(void) { sep(); fputs("null", stdout); }
static void j_bool(int b) { sep(); fputs(b ? "true" : "false", stdout); }
static void j_int(long long v) { sep(); printf("%lld", v); }
static void j_uint(unsigned long long v) { sep(); printf("%llu", v); }
static void j_strn(const char *s, size_t n) { sep(); j_raw(s, n); }
static void j_str(const char *s) { if (s) j_strn(s, strlen(s)); else j_null(); }

/* errno as its name ("EPERM"), or null for 0. */
static void j_errno(int e) {
  char buf[16];
  const char *name = e ? strerrorname_np(e) : NULL;
  if (e && !name) snprintf(buf, sizeof buf, "E%d", e), name = buf;
  j_str(name);
}

/* What readlink left in buf (n bytes), or null when it failed (n < 0). */
static void j_link(const char *buf, ssize_t n) {
  if (n >= 0) j_strn(buf, (size_t)n);
  else j_null();
}

/* Each piece of s between delimiters, as an array of strings. */
static void j_split(const char *s, char delim) {
  j_begin('[');
  while (*s) {
    const char *end = strchr(s, delim);
    size_t n = end ? (size_t)(end - s) : strlen(s);
    j_strn(s, n);
    s += n + (end ? 1 : 0);
  }
  j_end(']');
}

/* ---- small helpers ----------------------------------------------------------------------- */

/* A whole file, NUL-terminated (files under /proc report a size of 0: read until EOF). */
static char *slurp(const char *path) {
  size_t cap = 4096, len = 0;
  char *buf;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || (buf = malloc(cap)) == NULL) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  for (;;) {
    ssize_t r;
    if (len + 1 == cap) {
      char *bigger = realloc(buf, cap *= 2);
      if (!bigger) break;
      buf = bigger;
    }
    r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  return buf;
}

/* A one-line file's content without its newline, or null when it cannot be read. */
static void j_file_value(const char *path) {
  char *s = slurp(path);
  if (s) s[strcspn(s, "\n")] = '\0';
  j_str(s);
  free(s);
}

/* "Name:\tvalue" in /proc/self/status. */
static int status_field(const char *status, const char *name, char *out, size_t outlen) {
  size_t len = strlen(name);
  for (const char *p = status; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, name, len) == 0 && p[len] == ':') {
      size_t n;
      p += len + 1;
      p += strspn(p, " \t");
      n = strcspn(p, "\n");
      if (n >= outlen) n = outlen - 1;
      memcpy(out, p, n);
      out[n] = '\0';
      return 0;
    }
  }
  return -1;
}

/* Undoes the octal escapes (\040 for a space) of mountinfo, in place. */
static char *unescape(char *s) {
  char *r = s, *w = s;
  while (*r) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 4;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
  return s;
}

static int parse_long(const char *s, long min, long max, long *out) {
  char *end;
  long v;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int usage(const char *why) {
  fprintf(stderr,
          "nsbox-probe: %s\n"
          "usage: nsbox-probe                    the report (JSON)\n"
          "       nsbox-probe stat PATH...\n"
          "       nsbox-probe try ACTION [ARGS]   (nsbox-probe try help: the actions)\n"
          "       nsbox-probe sleep SECONDS | exit CODE\n",
          why);
  return 2;
}

/* ---- the report -------------------------------------------------------------------------- */

/* Indexed by RLIMIT_* (asm-generic/resource.h), named as lib/plan.ts's RLIMITS. */
static const char *const RLIMIT_NAMES[] = {
  "cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
  "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
};

static void report_capabilities(const char *status) {
  static const char *const fields[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
  uint64_t sets[5] = { 0 };
  char value[64];
  int from_proc = status != NULL;

  if (!from_proc) {
    /* No /proc in this container: ask the kernel (capget(2) version 3 is two 32-bit halves). */
    struct __user_cap_header_struct head = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &head, data) == 0) {
      sets[0] = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
      sets[1] = data[0].permitted | (uint64_t)data[1].permitted << 32;
      sets[2] = data[0].effective | (uint64_t)data[1].effective << 32;
    }
    for (int cap = 0; cap < 64; cap++) {
      int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
      if (in_bounding < 0) /* EINVAL past the last capability this kernel knows */
        break;
      if (in_bounding) sets[3] |= (uint64_t)1 << cap;
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
        sets[4] |= (uint64_t)1 << cap;
    }
  }
  j_key("capabilities");
  j_begin('{');
  for (int i = 0; i < 5; i++) {
    j_key(fields[i]);
    if (from_proc) {
      if (status_field(status, fields[i], value, sizeof value) == 0) j_str(value);
      else j_null();
    } else {
      snprintf(value, sizeof value, "%016llx", (unsigned long long)sets[i]);
      j_str(value);
    }
  }
  j_end('}');

  j_key("noNewPrivs"), j_int(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  j_key("seccomp");
  if (from_proc && status_field(status, "Seccomp", value, sizeof value) == 0) j_int(atoi(value));
  else j_int(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)); /* 0 or 2: in strict mode (1) this call kills */
  j_key("dumpable"), j_int(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

/* uid_map/gid_map: [[inside, outside, count], ...] */
static void report_id_map(const char *key, const char *path) {
  char *text = slurp(path), *line, *save = NULL;
  j_key(key);
  if (!text) { j_null(); return; }
  j_begin('[');
  for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    unsigned long long in, out, count;
    if (sscanf(line, "%llu %llu %llu", &in, &out, &count) != 3) continue;
    j_begin('['), j_uint(in), j_uint(out), j_uint(count), j_end(']');
  }
  j_end(']');
  free(text);
}

/* mountinfo (proc(5)): ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS */
static void report_mounts(void) {
  char *text = slurp("/proc/self/mountinfo"), *line, *save = NULL;
  j_key("mounts");
  j_begin('[');
  for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
    char *field[6], *type, *source, *super, *rest, *fsave = NULL;
    int n = 0;
    for (rest = strtok_r(line, " ", &fsave); rest && n < 6; rest = strtok_r(NULL, " ", &fsave))
      field[n++] = rest;
    while (rest && strcmp(rest, "-") != 0) /* the optional fields (shared:N, master:N) */
      rest = strtok_r(NULL, " ", &fsave);
    type = strtok_r(NULL, " ", &fsave);
    source = strtok_r(NULL, " ", &fsave);
    super = strtok_r(NULL, " ", &fsave);
    if (n < 6 || !type || !source || !super) continue;
    j_begin('{');
    j_key("mountPoint"), j_str(unescape(field[4]));
    j_key("root"), j_str(unescape(field[3]));
    j_key("fsType"), j_str(type);
    j_key("source"), j_str(unescape(source));
    j_key("options"), j_split(field[5], ',');
    j_key("superOptions"), j_split(unescape(super), ',');
    j_end('}');
  }
  j_end(']');
  free(text);
}

/* cgroup: the lines of /proc/self/cgroup. cgroupLimits: null unless /sys/fs/cgroup is a cgroup2
 * mount, then its memory.max, pids.max, cpu.max (each null when absent, as in the root group). */
static void report_cgroup(void) {
  static const char *const files[] = { "memory.max", "pids.max", "cpu.max" };
  struct statfs fs;
  char *text = slurp("/proc/self/cgroup"), *line, *save = NULL, file[64];

  j_key("cgroup");
  j_begin('[');
  for (line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) j_str(line);
  j_end(']');
  free(text);
  j_key("cgroupLimits");
  if (statfs("/sys/fs/cgroup", &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC) { j_null(); return; }
  j_begin('{');
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(file, sizeof file, "/sys/fs/cgroup/%s", files[i]);
    j_key(files[i]), j_file_value(file);
  }
  j_end('}');
}

static void report_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *e;
  char target[PATH_MAX];
  j_key("fds");
  j_begin('[');
  if (dir) {
    while ((e = readdir(dir)) != NULL) {
      long fd;
      ssize_t n;
      if (parse_long(e->d_name, 0, INT_MAX, &fd) < 0 || fd == dirfd(dir)) continue;
      n = readlinkat(dirfd(dir), e->d_name, target, sizeof target - 1);
      j_begin('{');
      j_key("fd"), j_int(fd);
      j_key("target");
      j_link(target, n);
      j_end('}');
    }
    closedir(dir);
  } else {
    /* No /proc: which fds are open, without their targets. */
    for (int fd = 0; fd < 4096; fd++) {
      if (fcntl(fd, F_GETFD) < 0) continue;
      j_begin('{');
      j_key("fd"), j_int(fd);
      j_key("target"), j_null();
      j_end('}');
    }
  }
  j_end(']');
}

static void j_rlim(rlim_t v) {
  if (v == RLIM_INFINITY) j_str("unlimited");
  else j_uint(v);
}

static void report_rlimits(void) {
  j_key("rlimits");
  j_begin('{');
  for (int r = 0; r < (int)(sizeof RLIMIT_NAMES / sizeof RLIMIT_NAMES[0]); r++) {
    struct rlimit lim;
    if (getrlimit(r, &lim) < 0) continue;
    j_key(RLIMIT_NAMES[r]);
    j_begin('{');
    j_key("soft"), j_rlim(lim.rlim_cur);
    j_key("hard"), j_rlim(lim.rlim_max);
    j_end('}');
  }
  j_end('}');
}

static void report_namespaces(void) {
  DIR *dir = opendir("/proc/self/ns");
  struct dirent *e;
  char target[256];
  j_key("namespaces");
  j_begin('{');
  while (dir && (e = readdir(dir)) != NULL) {
    ssize_t n;
    if (e->d_name[0] == '.') continue;
    n = readlinkat(dirfd(dir), e->d_name, target, sizeof target - 1);
    j_key(e->d_name);
    j_link(target, n);
  }
  j_end('}');
  if (dir) closedir(dir);
}

/* Lists read from /proc are empty without a /proc: readable, they never are (a process has a
 * root mount, a cgroup, namespaces). uidMap and gidMap are null then: an empty map is real. */
static void report(void) {
  struct utsname uts;
  char cwd[PATH_MAX];
  char *status = slurp("/proc/self/status");
  int ngroups = getgroups(0, NULL);
  gid_t *groups = calloc(ngroups > 0 ? (size_t)ngroups : 1, sizeof *groups);

  j_begin('{');
  j_key("pid"), j_int(getpid());
  j_key("ppid"), j_int(getppid());
  j_key("uid"), j_uint(getuid());
  j_key("gid"), j_uint(getgid());
  j_key("euid"), j_uint(geteuid());
  j_key("egid"), j_uint(getegid());
  j_key("groups");
  j_begin('[');
  ngroups = groups ? getgroups(ngroups, groups) : -1;
  for (int i = 0; i < ngroups; i++) j_uint(groups[i]);
  j_end(']');
  uname(&uts);
  j_key("hostname"), j_str(uts.nodename);
  j_key("domainname"), j_str(uts.domainname);
  j_key("cwd"), j_str(getcwd(cwd, sizeof cwd)); /* null when it lies outside the root */
  report_capabilities(status);
  report_id_map("uidMap", "/proc/self/uid_map");
  report_id_map("gidMap", "/proc/self/gid_map");
  report_mounts();
  report_cgroup();
  report_fds();
  report_rlimits();
  report_namespaces();
  j_key("env");
  j_begin('[');
  for (char **e = environ; *e; e++) j_str(*e);
  j_end(']');
  j_end('}');
  putchar('\n');
  free(groups);
  free(status);
}

/* ---- stat PATH... ------------------------------------------------------------------------ */

static const char *file_type(mode_t m) {
  switch (m & S_IFMT) {
  case S_IFREG: return "file";
  case S_IFDIR: return "directory";
  case S_IFLNK: return "symlink";
  case S_IFCHR: return "char";
  case S_IFBLK: return "block";
  case S_IFIFO: return "fifo";
  case S_IFSOCK: return "socket";
  default: return "unknown";
  }
}

static void stat_one(const char *path) {
  struct stat st;
  int exists = stat(path, &st) == 0;
  int err = exists ? 0 : errno, fd = -1;
  long entries = -1;

  if (exists) {
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* O_NONBLOCK: a fifo must not block */
    if (fd < 0) err = errno;
  }
  if (fd >= 0 && S_ISDIR(st.st_mode)) {
    DIR *dir = fdopendir(fd);
    struct dirent *e;
    for (entries = 0; dir && (e = readdir(dir)) != NULL;)
      entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (dir) closedir(dir); /* and fd with it */
    else close(fd);
  } else if (fd >= 0) {
    close(fd);
  }

  j_begin('{');
  j_key("path"), j_str(path);
  j_key("exists"), j_bool(exists);
  j_key("type"), exists ? j_str(file_type(st.st_mode)) : j_null();
  j_key("mode"), exists ? j_int(st.st_mode & 07777) : j_null();
  j_key("size"), exists ? j_int(st.st_size) : j_null();
  j_key("device");
  if (exists && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
    char dev[32];
    snprintf(dev, sizeof dev, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
    j_str(dev);
  } else {
    j_null();
  }
  j_key("entries"), entries >= 0 ? j_int(entries) : j_null(); /* for a directory: a masked one is empty */
  j_key("readable"), j_bool(fd >= 0);
  j_key("errno"), j_errno(err);
  j_end('}');
}

/* ---- try ACTION [ARGS] ------------------------------------------------------------------- */
/* Each returns 0 or the errno of the attempt, and may add keys of its own to the result. The
 * errno is the kernel's first refusal: a missing or read-only path can come before EPERM.
 * What would change the world outside the probe (a mount, a device node) is undone at once:
 * run without a mount namespace, the attempt must not leave anything on the host. */

/* The target must exist: mount(2) looks the path up before it checks the capability. */
static int try_mount(char **a) {
  const char *target = a[0] ? a[0] : "/tmp";
  if (mount("tmpfs", target, "tmpfs", 0, "size=64k") < 0) return errno;
  umount2(target, MNT_DETACH);
  return 0;
}

static int try_mknod(char **a) {
  const char *path = a[0] ? a[0] : "/tmp/probe-null";
  if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) < 0) return errno;
  unlink(path);
  return 0;
}

/* Without NAME it sets the current name again: the permission check, without the change. */
static int try_sethostname(char **a) {
  struct utsname uts;
  const char *name = a[0];
  if (!name) {
    uname(&uts);
    name = uts.nodename;
  }
  return sethostname(name, strlen(name)) < 0 ? errno : 0;
}

/* An empty image can never load: with CAP_SYS_MODULE in the initial user namespace this is
 * ENOEXEC (kernel/module/main.c checks the capability before the image), without it EPERM. */
static int try_module(char **a) {
  (void)a;
  return syscall(SYS_init_module, "", 0UL, "") < 0 ? errno : 0;
}

static int try_ptrace(char **a) {
  long pid;
  if (parse_long(a[0], 1, INT_MAX, &pid) < 0) return EINVAL;
  if (ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL) < 0) return errno;
  waitpid((pid_t)pid, NULL, __WALL); /* the tracee stops before it can be detached */
  ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
  return 0;
}

static int signal_number(const char *s) {
  long n;
  if (parse_long(s, 0, 64, &n) == 0) return (int)n;
  if (strncmp(s, "SIG", 3) == 0) s += 3;
  for (int sig = 1; sig < NSIG; sig++) {
    const char *abbrev = sigabbrev_np(sig);
    if (abbrev && strcmp(abbrev, s) == 0) return sig;
  }
  return -1;
}

static int try_kill(char **a) {
  long pid;
  int sig = signal_number(a[1]);
  if (parse_long(a[0], INT_MIN, INT_MAX, &pid) < 0 || sig < 0) return EINVAL;
  return kill((pid_t)pid, sig) < 0 ? errno : 0;
}

static int try_open(char **a) {
  int fd = open(a[0], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

/* No O_CREAT: like writing a sysctl, the file must exist. */
static int try_write(char **a) {
  size_t len = strlen(a[1]);
  ssize_t n;
  int err, fd = open(a[0], O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno;
  n = write(fd, a[1], len);
  err = n < 0 ? errno : (size_t)n < len ? EIO : 0;
  close(fd);
  return err;
}

static int try_readlink(char **a) {
  char target[PATH_MAX];
  ssize_t n = readlink(a[0], target, sizeof target);
  if (n < 0) return errno;
  j_key("target"), j_strn(target, (size_t)n);
  return 0;
}

/* /proc/PID/exe opened for writing is how CVE-2019-5736 overwrote runc from a container: the
 * result (ok, errno) is the O_WRONLY open; `read` reports the O_RDONLY one. */
static int try_openexe(char **a) {
  char path[64];
  int fd, read_err, write_err;
  snprintf(path, sizeof path, "/proc/%s/exe", a[0]);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  read_err = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  fd = open(path, O_WRONLY | O_CLOEXEC);
  write_err = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  j_key("read");
  j_begin('{');
  j_key("ok"), j_bool(read_err == 0);
  j_key("errno"), j_errno(read_err);
  j_end('}');
  return write_err;
}

static const struct { const char *name; int flag; } NAMESPACE_FLAGS[] = {
  { "user", CLONE_NEWUSER }, { "mount", CLONE_NEWNS }, { "uts", CLONE_NEWUTS }, { "ipc", CLONE_NEWIPC },
  { "net", CLONE_NEWNET }, { "pid", CLONE_NEWPID }, { "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

/* Comma-separated names, as lib/namespaces.ts spells them ("user,mount"), to CLONE_NEW* flags; -1 for an unknown one. */
static int namespace_flags(const char *list) {
  int flags = 0;
  while (*list) {
    size_t i, len = strcspn(list, ","), n = sizeof NAMESPACE_FLAGS / sizeof NAMESPACE_FLAGS[0];
    for (i = 0; i < n && !(strlen(NAMESPACE_FLAGS[i].name) == len && strncmp(NAMESPACE_FLAGS[i].name, list, len) == 0); i++)
      ;
    if (i == n) return -1;
    flags |= NAMESPACE_FLAGS[i].flag;
    list += len + (list[len] == ',');
  }
  return flags;
}

static int try_unshare(char **a) {
  return unshare(namespace_flags(a[0])) < 0 ? errno : 0;
}

static int try_chroot(char **a) {
  return chroot(a[0]) < 0 ? errno : 0;
}

static int try_fd(char **a) {
  char link[32], target[PATH_MAX];
  long fd;
  ssize_t n;
  if (parse_long(a[0], 0, INT_MAX, &fd) < 0) return EINVAL;
  if (fcntl((int)fd, F_GETFD) < 0) return errno;
  snprintf(link, sizeof link, "/proc/self/fd/%ld", fd);
  n = readlink(link, target, sizeof target); /* fails without /proc: the target is then null */
  j_key("target"), j_link(target, n);
  return 0;
}

/* if_nameindex(3) asks the kernel over netlink: it works without /proc or /sys. */
static int try_netifs(char **a) {
  struct if_nameindex *ifs = if_nameindex();
  (void)a;
  if (!ifs) return errno;
  j_key("names");
  j_begin('[');
  for (struct if_nameindex *i = ifs; i->if_index != 0; i++) j_str(i->if_name);
  j_end(']');
  if_freenameindex(ifs);
  return 0;
}

/* A new session keyring for this process only: the call Docker's default seccomp profile denies. */
static int try_keyctl(char **a) {
  (void)a;
  return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 ? errno : 0;
}

static const struct action {
  const char *name;
  int min_args, max_args;
  const char *args;
  int (*attempt)(char **args);
} ACTIONS[] = {
  { "mount", 0, 1, "[TARGET=/tmp]", try_mount },
  { "mknod", 0, 1, "[PATH=/tmp/probe-null]", try_mknod },
  { "sethostname", 0, 1, "[NAME=the current one]", try_sethostname },
  { "module", 0, 0, "", try_module },
  { "ptrace", 1, 1, "PID", try_ptrace },
  { "kill", 2, 2, "PID SIGNAL", try_kill },
  { "open", 1, 1, "PATH", try_open },
  { "write", 2, 2, "PATH TEXT", try_write },
  { "readlink", 1, 1, "PATH", try_readlink },
  { "openexe", 1, 1, "PID|self", try_openexe },
  { "unshare", 1, 1, "NAMESPACE[,NAMESPACE...]", try_unshare },
  { "chroot", 1, 1, "PATH", try_chroot },
  { "fd", 1, 1, "N", try_fd },
  { "netifs", 0, 0, "", try_netifs },
  { "keyctl", 0, 0, "", try_keyctl },
};

static int try_action(int argc, char **argv) {
  const struct action *act = NULL;
  int err;
  for (size_t i = 0; i < sizeof ACTIONS / sizeof ACTIONS[0]; i++)
    if (argc > 0 && strcmp(argv[0], ACTIONS[i].name) == 0) act = &ACTIONS[i];
  if (!act) {
    int help = argc > 0 && strcmp(argv[0], "help") == 0;
    if (!help) usage("try: unknown action; they are:");
    for (size_t i = 0; i < sizeof ACTIONS / sizeof ACTIONS[0]; i++)
      fprintf(help ? stdout : stderr, "  try %s %s\n", ACTIONS[i].name, ACTIONS[i].args);
    return help ? 0 : 2;
  }
  if (argc - 1 < act->min_args || argc - 1 > act->max_args) {
    fprintf(stderr, "nsbox-probe: usage: try %s %s\n", act->name, act->args);
    return 2;
  }
  if (act->attempt == try_kill && signal_number(argv[2]) < 0) return usage("try kill: unknown signal");
  if (act->attempt == try_unshare && namespace_flags(argv[1]) <= 0) return usage("try unshare: unknown namespace");
  j_begin('{');
  j_key("action"), j_str(act->name);
  err = act->attempt(argv + 1);
  j_key("ok"), j_bool(err == 0);
  j_key("errno"), j_errno(err);
  j_end('}');
  putchar('\n');
  return 0;
}

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : NULL;
  int code = 0;

  if (!cmd) {
    report();
  } else if (strcmp(cmd, "stat") == 0) {
    if (argc < 3) return usage("stat: no path given");
    j_begin('[');
    for (int i = 2; i < argc; i++) stat_one(argv[i]);
    j_end(']');
    putchar('\n');
  } else if (strcmp(cmd, "try") == 0) {
    code = try_action(argc - 2, argv + 2);
  } else if (strcmp(cmd, "sleep") == 0) {
    char *end;
    double s = argc == 3 ? strtod(argv[2], &end) : -1;
    struct timespec left;
    if (argc != 3 || end == argv[2] || *end || !(s >= 0 && s < 1e9))
      return usage("sleep: SECONDS must be a number >= 0");
    left.tv_sec = (time_t)s;
    left.tv_nsec = (long)((s - (double)left.tv_sec) * 1e9);
    while (nanosleep(&left, &left) < 0 && errno == EINTR)
      ;
  } else if (strcmp(cmd, "exit") == 0) {
    long c;
    if (argc != 3 || parse_long(argv[2], 0, 255, &c) < 0)
      return usage("exit: CODE must be 0 to 255");
    return (int)c;
  } else {
    return usage("unknown command");
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    perror("nsbox-probe: stdout");
    return 1;
  }
  return code;
}
