SRC += src/manager/consensus/consensus.c \
       src/manager/consensus/consensus_fsm.c \
       src/manager/consensus/consensus_membership.c \
       src/manager/consensus/consensus_propose.c \
       src/manager/consensus/consensus_transport.c \
       src/manager/consensus/consensus_crypt.c
