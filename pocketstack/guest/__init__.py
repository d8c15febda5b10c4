"""The default guest image (``cirros``), built from Debian packages with no download.

Use :func:`pocketstack.guest.build.ensure_image` (cached per recipe hash) or
:func:`pocketstack.guest.build.build_image`; ``python -m pocketstack.guest.build DEST`` by hand.

The image boots from the disk alone (syslinux in the MBR and a FAT boot partition; no
``-kernel``) with ``-M q35``, virtio disk and NIC, 128 MB+ RAM, the boot disk first and the
config drive as a second (read-only) disk. A ``virtio-rng-pci`` device is optional; without
it the first SSH host key is ready about a second after the ready line. Root is a persistent
ext4 partition found by its label (``root=LABEL=cirros-rootfs``: ``/dev/vda2`` when the image
is the first disk; a boot volume may come after the config drive).

The same guest as a live CD: :func:`pocketstack.guest.build.ensure_iso` /
:func:`~pocketstack.guest.build.build_iso` (``python -m pocketstack.guest.build DEST.iso``),
an El Torito ISO (ISOLINUX, volume label ``POCKETSTACK_LIVE``) whose initramfs holds the
whole userland and runs it from RAM (``pocketstack.live`` on the kernel command line). Same
boot scripts and console lines, preceded by ``pocketstack guest: live boot, running from
RAM``; nothing persists (the boot counter restarts at 1, user_data runs at every boot). It
boots from a CD (IDE or AHCI) with any blank disks attached; upload it with
``--disk-format iso``.

What the guest does at each boot (``files/rcS``); every line goes to the serial console::

    pocketstack guest: boot <N>                      (a persistent boot counter)
    pocketstack guest: config drive /dev/vdb         (or: no config drive)
    pocketstack guest: installed <n> ssh key(s) for root
    pocketstack guest: eth0 ip <ip> netmask <mask> (static)
    pocketstack guest: eth0 default via <gateway>
    pocketstack guest: eth0 dhcp (udhcpc in the background)
    pocketstack guest: eth0 ip <ip> netmask <mask> (dhcp)
    pocketstack guest: eth0 ip <ip> netmask <mask> (static: no DHCP answer yet)
    pocketstack guest: guest agent on /dev/vport<N>p<M>  (a port org.qemu.guest_agent.0)
    pocketstack guest: running user_data / user_data exited with status <s>
    pocketstack guest: user_data already ran for instance <uuid>
    pocketstack guest <hostname> ready
    pocketstack guest: ssh host key SHA256:...       (just after the ready line)

- Config drive: the block device labelled ``config-2`` (ISO9660 or vfat), mounted read-only;
  ``openstack/latest/*`` is copied to ``/run/config-drive`` and the device unmounted.
- Hostname: ``hostname`` (else ``name``) of ``meta_data.json``, saved in /etc/hostname; with
  no config drive the saved one (default ``cirros``).
- Keys: every ``public_keys`` value is added to /root/.ssh/authorized_keys (never removed).
- Network (``network_data.json``): each ``networks[]`` entry picks its interface by the MAC of
  its link; ``ipv4`` sets address, routes and DNS; ``ipv4_dhcp`` runs udhcpc for at most about
  a second and then in the background, and falls back to the entry's ``ip_address`` when
  no lease came. Without network data: DHCP on eth0.
- user_data: run when it starts with ``#!``, once per instance uuid (like cloud-init), before
  the ready line, output on the console.
- qemu-ga (Debian's guest agent) on the virtio-serial port ``org.qemu.guest_agent.0`` when
  there is one (images with ``hw_qemu_guest_agent=yes``): ping, fsfreeze, and
  ``guest-set-user-password`` through ``/usr/sbin/chpasswd`` (``files/chpasswd``).
- dropbear on port 22, public-key login only; acpid turns the ACPI power button (QMP
  ``system_powerdown``) into ``poweroff``; ``reboot`` and ``system_reset`` reboot.
"""
